"""Watches poll arXiv (recorded answers, never the network) and the library into the triage
inbox: only what is new arrives, polling twice adds nothing, errors stay on the watch."""

import pytest
import requests
from django.urls import reverse

from papers import arxiv_api
from papers.importers import import_text
from papers.models import Paper, TriageItem, Watch
from papers.tasks import poll_due_watches, poll_watch
from tests.factories import make_paper
from tests.papers.intake_support import EMPTY_FEED

pytestmark = pytest.mark.django_db

QUERY = 'cat:cs.LG AND abs:"speculative decoding"'
# How the arXiv API answers a query it cannot read (the shape its user manual gives for errors:
# a feed with one entry whose id is under /api/errors); hand-written, no such answer is recorded.
ARXIV_ERROR = """<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <entry>
    <id>http://arxiv.org/api/errors#malformed_query</id>
    <title>Error</title>
    <summary>malformed query: unbalanced
      parentheses</summary>
  </entry>
</feed>
"""


@pytest.fixture
def arxiv_watch(alice):
    return Watch.objects.create(name="Dreams", kind="arxiv", query=QUERY, created_by=alice)


def test_a_poll_puts_each_new_arxiv_match_in_the_inbox_without_adding_papers(
    arxiv_watch, fake_arxiv
):
    assert poll_watch(arxiv_watch.pk) == 10
    items = TriageItem.objects.untriaged()
    assert items.count() == 10
    stacks = items.get(arxiv_id="1403.7984")
    assert stacks.title == "Mori Dream Stacks"
    assert stacks.doi == "10.1007/s00209-015-1472-1"
    # The library stays as it was until someone chooses to read one.
    assert not Paper.objects.exists()
    arxiv_watch.refresh_from_db()
    assert arxiv_watch.last_polled_at is not None and arxiv_watch.last_error == ""


def test_the_request_is_the_polite_api_query(arxiv_watch, fake_arxiv):
    poll_watch(arxiv_watch.pk)
    (request,) = fake_arxiv.requests
    assert request["url"] == "https://export.arxiv.org/api/query"
    assert request["params"]["search_query"] == QUERY
    assert request["params"]["sortBy"] == "submittedDate"
    assert request["headers"]["User-Agent"].startswith("Assay/")
    assert request["timeout"] == arxiv_api.TIMEOUT_SECONDS


def test_polling_twice_adds_nothing_the_second_time(arxiv_watch, fake_arxiv):
    poll_watch(arxiv_watch.pk)
    assert poll_watch(arxiv_watch.pk) == 0
    assert TriageItem.objects.count() == 10


def test_consecutive_requests_are_three_seconds_apart(alice, fake_arxiv):
    for name in ("one", "two", "three"):
        watch = Watch.objects.create(name=name, query=name, created_by=alice)
        poll_watch(watch.pk)
    times = [request["at"] for request in fake_arxiv.requests]
    assert [later - earlier for earlier, later in zip(times, times[1:], strict=False)] == [3.0, 3.0]


def test_a_match_already_in_the_library_or_the_inbox_is_not_a_new_item(
    alice, arxiv_watch, fake_arxiv
):
    # One by its arXiv id (another version), one by its DOI: dedupe's rules.
    make_paper(title="Mori dream stacks (published)", arxiv_id="1403.7984v1")
    make_paper(title="Something else entirely", doi="10.1007/S00209-015-1472-1")
    other = Watch.objects.create(name="Same feed", query="dream", created_by=alice)
    poll_watch(other.pk)
    assert TriageItem.objects.count() == 9
    assert not TriageItem.objects.filter(arxiv_id="1403.7984").exists()
    # A second watch matching the same papers adds no second item for any of them.
    assert poll_watch(arxiv_watch.pk) == 0


def test_a_skipped_match_does_not_come_back(bob, arxiv_watch, fake_arxiv):
    poll_watch(arxiv_watch.pk)
    item = TriageItem.objects.get(arxiv_id="1403.7984")
    item.triage(TriageItem.Status.SKIPPED, by=bob)
    poll_watch(arxiv_watch.pk)
    assert TriageItem.objects.untriaged().count() == 9
    assert not Paper.objects.exists()


@pytest.mark.parametrize(
    "answer, error",
    [
        (requests.ConnectionError("connection refused"), "arXiv could not be reached: Connection"),
        (requests.Timeout("read timed out"), "arXiv could not be reached: Timeout"),
        ((503, "Service Unavailable"), "arXiv answered HTTP 503: Service Unavailable"),
        ((200, "<html>rate limited</html>"), "arXiv's answer is not a feed"),
        ((400, ARXIV_ERROR), "arXiv refused the query: malformed query: unbalanced parentheses"),
    ],
    ids=["refused", "timeout", "http-503", "not-a-feed", "api-error"],
)
def test_a_failed_poll_records_the_error_on_the_watch_page(
    alice_client, arxiv_watch, fake_arxiv, answer, error
):
    fake_arxiv.answers = [answer, (200, EMPTY_FEED)]
    assert poll_watch(arxiv_watch.pk) == 0
    arxiv_watch.refresh_from_db()
    assert arxiv_watch.last_error.startswith(error)
    assert arxiv_watch.last_polled_at is not None
    page = alice_client.get(reverse("papers:watch_detail", args=[arxiv_watch.pk]))
    assert error.replace("'", "&#x27;") in page.content.decode()
    # The next poll that works clears the error.
    poll_watch(arxiv_watch.pk)
    arxiv_watch.refresh_from_db()
    assert (arxiv_watch.last_error, arxiv_watch.last_error_at) == ("", None)


def test_a_paused_or_deleted_watch_is_not_polled(arxiv_watch, fake_arxiv):
    arxiv_watch.active = False
    arxiv_watch.save()
    assert poll_watch(arxiv_watch.pk) == 0
    assert poll_watch(arxiv_watch.pk + 1000) == 0
    assert fake_arxiv.requests == []


def test_the_periodic_task_polls_only_due_watches_and_is_on_beats_schedule(
    settings, alice, arxiv_watch, fake_arxiv, django_capture_on_commit_callbacks
):
    schedule = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "papers.tasks.poll_due_watches" in schedule
    with django_capture_on_commit_callbacks(execute=True):
        assert poll_due_watches() == [arxiv_watch.pk]
    assert TriageItem.objects.count() == 10
    # Just polled: not due again until Watch.POLL_EVERY has passed.
    with django_capture_on_commit_callbacks(execute=True):
        assert poll_due_watches() == []
    assert len(fake_arxiv.requests) == 1


def test_a_saved_library_search_brings_papers_added_since_the_watch(
    alice, fake_models, on_commit, fake_arxiv
):
    with on_commit():
        older = make_paper(title="Speculative decoding with draft models")
    watch = Watch.objects.create(
        name="Spec decoding", kind="library", query="speculative decoding", created_by=alice
    )
    Paper.objects.filter(pk=older.pk).update(created_at=watch.created_at.replace(year=2020))
    with on_commit():
        import_text(
            "@article{a, title = {Speculative decoding at scale}, year = 2024}\n"
            "@article{b, title = {Ring attention}, year = 2024}\n"
        )
    assert poll_watch(watch.pk) == 1
    (item,) = TriageItem.objects.all()
    assert item.paper.title == "Speculative decoding at scale"
    assert poll_watch(watch.pk) == 0
    assert fake_arxiv.requests == []  # a library search never asks arXiv


def test_creating_a_watch_polls_it_at_once_and_shows_it(
    alice_client, fake_arxiv, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(
            reverse("papers:watch_create"), {"name": "Dreams", "kind": "arxiv", "query": QUERY}
        )
    watch = Watch.objects.get()
    assert response.status_code == 302 and response["Location"] == watch.get_absolute_url()
    assert TriageItem.objects.filter(watch=watch).count() == 10
    page = alice_client.get(watch.get_absolute_url()).content.decode()
    assert "cat:cs.LG AND abs:&quot;speculative decoding&quot;" in page
    assert "10 to triage" in page


def test_a_watch_without_a_query_is_refused(alice_client):
    response = alice_client.post(
        reverse("papers:watch_create"), {"name": "Empty", "kind": "arxiv", "query": "   "}
    )
    assert response.status_code == 400
    assert not Watch.objects.exists()


def test_someone_without_a_role_cannot_see_or_make_watches(charlie_client, arxiv_watch):
    assert charlie_client.get(reverse("papers:triage_inbox")).status_code == 403
    assert charlie_client.get(arxiv_watch.get_absolute_url()).status_code == 403
    response = charlie_client.post(
        reverse("papers:watch_create"), {"name": "x", "kind": "arxiv", "query": "x"}
    )
    assert response.status_code == 403
    assert (
        charlie_client.post(reverse("papers:watch_poll", args=[arxiv_watch.pk])).status_code == 403
    )
