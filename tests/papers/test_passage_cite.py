"""A passage of a paper's full text, cited from the paper page as evidence for a research
question: question, stance and why in one form beside the passage, which then names the
question it is evidence for."""

import pytest
from django.urls import reverse

from papers.models import PaperPdf, Passage, QuestionLink
from tests import factories

pytestmark = pytest.mark.django_db

SENTENCE = "Ring attention keeps memory flat as the context grows to one million tokens."


@pytest.fixture
def passage():
    paper = factories.make_paper(title="Ring Attention")
    PaperPdf.objects.create(paper=paper, state=PaperPdf.State.EXTRACTED, page_count=3)
    Passage.objects.create(paper=paper, page=1, ordinal=1, text="Introduction.")
    return Passage.objects.create(paper=paper, page=2, ordinal=2, text=SENTENCE)


@pytest.fixture
def question():
    return factories.make_question(question="Can we serve 1M-token contexts?")


def _cite_url(passage):
    return reverse("papers:passage_cite", args=[passage.paper_id, passage.pk])


def _data(question, **fields):
    return {"question": question.pk, "stance": "supports", "rationale": "Flat memory", **fields}


def test_each_passage_offers_to_cite_it(bob_client, passage, question):
    body = bob_client.get(passage.paper.get_absolute_url()).content.decode()
    assert f'action="{_cite_url(passage)}"' in body
    assert f'<option value="{question.pk}">Can we serve 1M-token contexts?</option>' in body


def test_citing_a_passage_in_place(bob_client, htmx, bob, passage, question):
    response = bob_client.post(_cite_url(passage), _data(question), headers=htmx)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith(f'<article class="passage" id="passage-{passage.pk}">')
    assert "Evidence for" in body and "Can we serve 1M-token contexts?" in body
    evidence = QuestionLink.objects.get()
    assert (evidence.question, evidence.paper, evidence.passage) == (
        question,
        passage.paper,
        passage,
    )
    assert (evidence.stance, evidence.rationale, evidence.added_by) == (
        "supports",
        "Flat memory",
        bob,
    )
    # The question's evidence map quotes the passage at its page.
    page = bob_client.get(question.get_absolute_url()).content.decode()
    assert "p. 2" in page and SENTENCE in page


def test_a_plain_post_goes_back_to_the_passage(bob_client, passage, question):
    response = bob_client.post(_cite_url(passage), _data(question))
    assert response.status_code == 302
    assert response["Location"] == f"{passage.paper.get_absolute_url()}#passage-{passage.pk}"
    page = bob_client.get(response["Location"]).content.decode()
    assert "Cited as evidence for “Can we serve 1M-token contexts?”." in page
    assert QuestionLink.objects.get().passage == passage


def test_a_citation_without_a_reason_is_refused_with_it(bob_client, htmx, passage, question):
    response = bob_client.post(_cite_url(passage), _data(question, rationale=""), headers=htmx)
    assert response.status_code == 200  # htmx swaps only 2xx: the form shows its error
    assert "This field is required." in response.content.decode()
    plain = bob_client.post(_cite_url(passage), _data(question, rationale="", stance="context"))
    assert plain.status_code == 400
    body = plain.content.decode()
    assert "This field is required." in body
    assert '<option value="context" selected>' in body  # what was asked is kept
    assert not QuestionLink.objects.exists()


def test_an_unknown_question_is_refused(bob_client, passage, question):
    data = {**_data(question), "question": question.pk + 99}
    response = bob_client.post(_cite_url(passage), data)
    assert response.status_code == 400
    assert "No research question has that id." in response.content.decode()


def test_a_passage_is_cited_only_through_its_own_paper(bob_client, passage, question):
    other = factories.make_paper()
    url = reverse("papers:passage_cite", args=[other.pk, passage.pk])
    assert bob_client.post(url, _data(question)).status_code == 404
    assert not QuestionLink.objects.exists()


def test_citing_needs_the_right_to_add_evidence(charlie_client, passage, question):
    assert charlie_client.post(_cite_url(passage), _data(question)).status_code == 403
    assert not QuestionLink.objects.exists()
