"""Search pages, fragments and the API: htmx and plain requests, permissions, bad input."""

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from papers.models import IndexState, QuestionLink
from tests.factories import make_paper, make_question


@pytest.fixture
def papers(db, fake_models, on_commit):
    with on_commit():
        return [
            make_paper(title="Attention is all you need", year=2017, abstract="The Transformer"),
            make_paper(title="Attention <b>bold</b> tricks", year=2021),
            make_paper(title="Convolutional sequence learning", year=2017),
        ]


def test_search_page_renders_results_with_highlights(bob_client, papers):
    response = bob_client.get(reverse("papers:search"), {"q": "attention"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html and 'hx-trigger="input changed delay:300ms, search"' in html
    assert "<mark>Attention</mark> is all you need" in html
    assert "<mark>Attention</mark> &lt;b&gt;bold&lt;/b&gt; tricks" in html
    assert "Convolutional" not in html


def test_htmx_request_gets_only_the_results_fragment(bob_client, papers, htmx):
    response = bob_client.get(reverse("papers:search"), {"q": "attention"}, headers=htmx)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and "<form" not in html
    assert html.count('class="search-result"') == 2


def test_filters_and_modes_from_the_query_string(bob_client, papers, htmx):
    params = {"q": "attention", "year_to": "2018", "mode": "keyword", "k": "5"}
    html = bob_client.get(reverse("papers:search"), params, headers=htmx).content.decode()
    assert html.count('class="search-result"') == 1 and "all you need" in html


def test_compare_mode_shows_one_column_per_model(bob_client, papers, htmx):
    params = {"q": "attention", "model": "bow", "compare": "words"}
    html = bob_client.get(reverse("papers:search"), params, headers=htmx).content.decode()
    assert html.count('class="search-column"') == 2
    assert "<h2>bow</h2>" in html and "<h2>words</h2>" in html


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": "x", "k": "abc"}, "k: Enter a whole number."),
        ({"q": "x", "k": "500"}, "k: Ensure this value is less than or equal to 100."),
        ({"q": "x", "model": "nope"}, "model: Select a valid choice."),
        ({"q": "x", "mode": "fuzzy"}, "mode: Select a valid choice."),
        ({"q": "x", "year_from": "2020", "year_to": "2010"}, "year_from is after year_to."),
    ],
)
def test_bad_input_shows_a_message_not_an_error_page(bob_client, papers, params, message, htmx):
    for headers in ({}, htmx):
        response = bob_client.get(reverse("papers:search"), params, headers=headers)
        assert response.status_code == 200
        assert message in response.content.decode()


def test_empty_query_shows_the_form_without_results(bob_client, papers):
    html = bob_client.get(reverse("papers:search"), {"q": "  "}).content.decode()
    assert "Type something to search for." in html and 'class="search-result"' not in html


def test_search_needs_the_view_permission(charlie_client, papers):
    assert charlie_client.get(reverse("papers:search"), {"q": "x"}).status_code == 403


def test_similar_and_candidate_fragments(bob_client, papers, on_commit):
    response = bob_client.get(reverse("papers:similar", args=[papers[0].pk]))
    assert response.status_code == 200
    assert "Attention &lt;b&gt;bold&lt;/b&gt; tricks" in response.content.decode()
    question = make_question(question="Where does attention beat convolution?")
    with on_commit():
        QuestionLink.objects.create(
            question=question, paper=papers[0], stance="supports", rationale="Cited"
        )
    html = bob_client.get(reverse("papers:question_candidates", args=[question.pk])).content
    assert b"</mark> sequence learning" in html and b"all you need" not in html
    assert bob_client.get(reverse("papers:similar", args=[999999])).status_code == 404


def test_near_duplicates_page_links_to_the_merge(bob_client, fake_models, on_commit):
    with on_commit():
        first = make_paper(title="Deep residual learning")
        second = make_paper(title="Deep Residual Learning")
    html = bob_client.get(reverse("papers:near_duplicates")).content.decode()
    merge = reverse("papers:paper_merge")
    assert f'href="{merge}?keep={first.pk}&amp;merge={second.pk}"' in html
    response = bob_client.get(reverse("papers:near_duplicates"), {"threshold": "7"})
    assert response.status_code == 200 and "less than or equal to 1.0" in response.content.decode()


def test_index_status_polls_while_running_and_stops_when_done(bob_client, papers, htmx):
    IndexState.objects.filter(model="bow").update(
        status="running", progress_done=30, progress_total=120
    )
    response = bob_client.get(reverse("papers:index_status"), headers=htmx)
    html = response.content.decode()
    assert response.status_code == 200
    assert 'hx-trigger="every 1s"' in html and 'aria-valuenow="25"' in html
    IndexState.objects.filter(model="bow").update(status="done")
    response = bob_client.get(reverse("papers:index_status"), headers=htmx)
    assert response.status_code == 286  # htmx stops polling
    assert "every 1s" not in response.content.decode()
    assert "Up to date" in response.content.decode()


def test_rebuild_is_for_leads(client, alice, bob, papers, on_commit, htmx):
    url = reverse("papers:index_rebuild")
    client.force_login(bob)
    assert "Rebuild" not in client.get(reverse("papers:search")).content.decode()
    assert client.post(url, {"model": "bow"}).status_code == 403
    client.force_login(alice)
    alice_client = client
    assert "Rebuild" in alice_client.get(reverse("papers:search")).content.decode()
    with on_commit():
        response = alice_client.post(url, {"model": "bow"})
    assert response.status_code == 302 and response.url == reverse("papers:search")
    state = IndexState.objects.get(model="bow")
    assert (state.version, state.status, state.count) == (2, "done", 3)
    response = alice_client.post(url, {"model": "nope"}, follow=True)
    assert "Unknown embedding model" in response.content.decode()
    response = alice_client.post(url, {"model": "words"}, headers=htmx)
    assert response.status_code in (200, 286) and 'id="index-status"' in response.content.decode()


def test_api_search(bob_client, papers):
    url = "/api/v1/papers/search"
    response = bob_client.get(url, {"q": "attention", "mode": "keyword", "year_to": 2018})
    assert response.status_code == 200
    assert [hit["id"] for hit in response.json()] == [papers[0].pk]
    assert bob_client.get(url, {"q": "x", "k": 0}).status_code == 422
    response = bob_client.get(url, {"q": "x", "model": "nope"})
    assert response.status_code == 400 and "configured models" in response.json()["detail"]


def test_search_command_json_ranks_like_the_web(bob_client, papers):
    out = StringIO()
    call_command("search", "attention", "--json", "-k", "5", stdout=out)
    hits = json.loads(out.getvalue())
    web = bob_client.get("/api/v1/papers/search", {"q": "attention", "k": 5}).json()
    assert [hit["id"] for hit in hits] == [hit["id"] for hit in web]
    assert {hit["title"] for hit in hits} == {
        "Attention is all you need",
        "Attention <b>bold</b> tricks",
    }
    assert {"id", "title", "score"} <= set(hits[0])
    assert hits[0]["score"] >= hits[1]["score"]
    with pytest.raises(CommandError, match="configured models: bow, words"):
        call_command("search", "attention", "--model", "nope")
    with pytest.raises(CommandError, match="k must be"):
        call_command("search", "attention", "-k", "0")


@pytest.fixture
def passage(papers, on_commit):
    from papers.models import Passage

    with on_commit():
        return Passage.objects.create(
            paper=papers[2],
            page=6,
            ordinal=0,
            text="Gated linear units let the <convolutional> decoder attend to its input",
        )


def test_a_passage_hit_shows_its_page_snippet_and_link(bob_client, papers, passage, htmx):
    response = bob_client.get(
        reverse("papers:search"), {"q": "gated linear units", "mode": "keyword"}, headers=htmx
    )
    html = response.content.decode()
    assert html.count('class="search-result"') == 1
    link = f'href="{reverse("papers:paper_detail", args=[papers[2].pk])}#passage-{passage.pk}"'
    assert link in html and ">p. 6</a>" in html
    assert "<mark>Gated</mark> <mark>linear</mark> <mark>units</mark> let the" in html
    assert "&lt;convolutional&gt; decoder" in html  # passage text is escaped


def test_api_search_returns_the_matching_passage(bob_client, papers, passage):
    hits = bob_client.get("/api/v1/papers/search", {"q": "gated linear units"}).json()
    assert hits[0]["id"] == papers[2].pk
    assert hits[0]["passage"] == {
        "id": passage.pk,
        "page": 6,
        "text": passage.text,
        "url": f"/papers/{papers[2].pk}/#passage-{passage.pk}",
    }
    attention = bob_client.get("/api/v1/papers/search", {"q": "attention"}).json()
    assert [hit["passage"] for hit in attention] == [None, None]


def test_a_paper_found_by_a_sentence_of_its_body_shows_the_passage_that_has_it(
    bob_client, db, fake_models, on_commit, htmx
):
    """The paper's own document (its title) beats its passages on the keyword side, and the
    embedding side prefers page 1: the snippet is still the keyword side's best passage."""
    from papers.models import Passage

    sentence = "Blockwise ring scheduling kept peak activation memory at 41 gigabytes"
    filler = [f"filler{n}" for n in range(10)]  # so that the embedding prefers page 1
    with on_commit():
        paper = make_paper(title="Blockwise Ring Scheduling at Peak Memory")
        Passage.objects.create(
            paper=paper, page=1, ordinal=1, text="Blockwise ring scheduling at peak memory, kept."
        )
        wanted = Passage.objects.create(
            paper=paper, page=2, ordinal=2, text=f"{sentence}. {' '.join(filler)}."
        )
    html = bob_client.get(reverse("papers:search"), {"q": sentence}, headers=htmx)
    html = html.content.decode()
    assert f"#passage-{wanted.pk}" in html and ">p. 2</a>" in html
    assert "<mark>gigabytes</mark>" in html


def test_a_long_passage_shows_the_stretch_with_the_words_typed(bob_client, papers, on_commit, htmx):
    """One query word early in a long passage, all of them later: the snippet is the later."""
    from papers.models import Passage

    sentence = "Blockwise ring scheduling kept peak activation memory at 41 gigabytes"
    early = " ".join(f"Each device holds block {n} of the ring." for n in range(20))
    with on_commit():
        Passage.objects.create(paper=papers[2], page=2, ordinal=1, text=f"{early} {sentence}.")
    params = {"q": sentence, "mode": "keyword"}
    html = bob_client.get(reverse("papers:search"), params, headers=htmx).content.decode()
    assert "<mark>activation</mark> <mark>memory</mark> at <mark>41</mark>" in html
    assert "block 0 of the" not in html
