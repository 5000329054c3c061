"""The triage inbox: one click per new paper (skip, read later, read now); only a paper someone
chose to read enters the library; the dashboard shows how many wait."""

import pytest
from django.urls import reverse

from papers.importers import import_text
from papers.models import Paper, ReadingState, TriageItem, Watch
from papers.tasks import poll_watch
from tests.factories import make_paper

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox(alice, fake_arxiv):
    watch = Watch.objects.create(name="Dreams", query="deep dream", created_by=alice)
    poll_watch(watch.pk)
    return watch


def _item(arxiv_id="1403.7984"):
    return TriageItem.objects.get(arxiv_id=arxiv_id)


def _triage(client, item, decision, **headers):
    return client.post(
        reverse("papers:triage_item", args=[item.pk]), {"decision": decision}, headers=headers
    )


def test_the_inbox_lists_the_new_papers_with_their_watch(bob_client, inbox):
    page = bob_client.get(reverse("papers:triage_inbox")).content.decode()
    assert '<span id="inbox-count">10</span> to triage' in page
    assert "Mori Dream Stacks" in page and "arXiv:1403.7984" in page
    assert 'value="read_later"' in page


def test_skip_keeps_the_paper_out_of_the_library(bob_client, bob, inbox):
    response = _triage(bob_client, _item(), "skip")
    assert response.status_code == 302 and response["Location"] == reverse("papers:triage_inbox")
    item = _item()
    assert (item.status, item.triaged_by, item.paper) == ("skipped", bob, None)
    assert not Paper.objects.exists()


def test_read_later_adds_the_paper_and_puts_it_on_my_reading_queue(bob_client, bob, inbox):
    _triage(bob_client, _item(), "read_later")
    paper = Paper.objects.get()
    assert (paper.arxiv_id, paper.title, paper.doi) == (
        "1403.7984",
        "Mori Dream Stacks",
        "10.1007/s00209-015-1472-1",
    )
    assert ReadingState.objects.get(user=bob, paper=paper).state == "to_read"
    queue = bob_client.get(reverse("papers:reading_queue")).content.decode()
    assert "Mori Dream Stacks" in queue
    inbox_page = bob_client.get(reverse("papers:triage_inbox")).content.decode()
    assert '<span id="inbox-count">9</span> to triage' in inbox_page


def test_read_now_opens_the_note_of_the_new_paper_at_pass_one(bob_client, bob, inbox):
    response = _triage(bob_client, _item(), "read_now")
    paper = Paper.objects.get()
    assert response["Location"] == reverse("papers:note_edit", args=[paper.pk])
    assert ReadingState.objects.get(user=bob, paper=paper).state == "pass_1"


def test_read_now_with_htmx_redirects_the_browser_to_the_note(bob_client, inbox, htmx):
    response = _triage(bob_client, _item(), "read_now", **htmx)
    assert response["HX-Redirect"] == reverse("papers:note_edit", args=[Paper.objects.get().pk])


def test_triage_with_htmx_answers_the_inbox_without_the_item(bob_client, inbox, htmx):
    item = _item()
    response = _triage(bob_client, item, "skip", **htmx)
    text = response.content.decode().strip()
    assert text.startswith('<section class="card" id="inbox">')
    assert f'id="triage-{item.pk}"' not in text
    assert '<span id="inbox-count">9</span>' in text


def test_a_paper_imported_meanwhile_is_reused_not_added_twice(bob_client, bob, inbox):
    import_text("@article{s, title = {Mori dream stacks}, eprint = {1403.7984}, year = 2014}")
    _triage(bob_client, _item(), "read_later")
    assert Paper.objects.count() == 1
    assert ReadingState.objects.get(user=bob).paper == Paper.objects.get()


def test_a_reader_already_further_along_keeps_their_place(bob, inbox):
    paper = make_paper(title="Already reading")
    watch = Watch.objects.create(name="lib", kind="library", query="x", created_by=bob)
    item = TriageItem.objects.create(watch=watch, paper=paper, title=paper.title)
    ReadingState.record(user=bob, paper=paper, state="pass_2")
    item.triage(TriageItem.Status.READ_LATER, by=bob)
    assert ReadingState.objects.get(user=bob, paper=paper).state == "pass_2"


def test_an_unknown_decision_is_refused_and_changes_nothing(bob_client, inbox):
    response = _triage(bob_client, _item(), "delete")
    assert response.status_code == 400
    assert _item().status == "new"


def test_someone_without_a_role_cannot_triage(charlie_client, inbox):
    assert _triage(charlie_client, _item(), "read_later").status_code == 403
    assert _item().status == "new" and not Paper.objects.exists()


def test_the_dashboard_shows_how_many_papers_wait_for_triage(bob_client, inbox):
    panel = bob_client.get(reverse("papers:home_panel")).content.decode()
    assert "10</span> new papers to triage" in panel
    for item in TriageItem.objects.all():
        item.triage(TriageItem.Status.SKIPPED, by=None)
    panel = bob_client.get(reverse("papers:home_panel")).content.decode()
    assert "Inbox: nothing to triage" in panel
