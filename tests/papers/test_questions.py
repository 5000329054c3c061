import pytest
from django.test import Client
from django.urls import reverse

from papers.models import ConclusionRevision, QuestionLink, ResearchQuestion
from tests import factories

pytestmark = pytest.mark.django_db


def _client_for(user):
    """A second logged-in client (the *_client fixtures share one Client)."""
    client = Client()
    client.force_login(user)
    return client


def test_asking_a_question_from_the_list(bob_client, bob):
    response = bob_client.post(reverse("papers:question_list"), {"question": "Does GQA hurt?"})
    question = ResearchQuestion.objects.get()
    assert response["Location"] == question.get_absolute_url()
    assert (question.created_by, question.status) == (bob, "open")
    assert "Does GQA hurt?" in bob_client.get(reverse("papers:question_list")).content.decode()


def test_linking_a_paper_by_arxiv_id_with_plain_post(bob_client):
    question = factories.make_question()
    paper = factories.make_paper(title="GQA", arxiv_id="2305.13245")
    url = reverse("papers:question_link", args=[question.pk])
    data = {"paper": "arXiv:2305.13245v3", "stance": "supports", "passage": "Table 1"}
    response = bob_client.post(url, data)
    assert response.status_code == 302
    link = QuestionLink.objects.get()
    assert (link.paper, link.stance, link.passage) == (paper, "supports", "Table 1")


def test_linking_in_place_with_htmx_returns_the_evidence_region(bob_client, htmx):
    question = factories.make_question()
    paper = factories.make_paper(title="Switch Transformer")
    url = reverse("papers:question_link", args=[question.pk])
    response = bob_client.post(
        url, {"paper": f"#{paper.pk}", "stance": "contradicts"}, headers=htmx
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="evidence">')
    assert "Switch Transformer" in body and "Contradicts" in body


def test_linking_an_unknown_paper_says_so(bob_client, htmx):
    question = factories.make_question()
    url = reverse("papers:question_link", args=[question.pk])
    plain = bob_client.post(url, {"paper": "10.9999/nothing", "stance": "supports"})
    assert plain.status_code == 400
    assert "No paper matches “10.9999/nothing”." in plain.content.decode()
    in_place = bob_client.post(url, {"paper": "#999", "stance": "supports"}, headers=htmx)
    assert "No paper matches “#999”." in in_place.content.decode()
    assert not QuestionLink.objects.exists()


def test_linking_the_same_paper_again_updates_the_stance(bob_client):
    question = factories.make_question()
    paper = factories.make_paper()
    url = reverse("papers:question_link", args=[question.pk])
    bob_client.post(url, {"paper": paper.pk, "stance": "supports"})
    bob_client.post(url, {"paper": paper.pk, "stance": "background", "passage": "Sec. 2"})
    assert list(QuestionLink.objects.values_list("stance", "passage")) == [("background", "Sec. 2")]


def test_conclusion_edits_are_kept_as_visible_history(alice_client, bob, htmx):
    question = factories.make_question(question="Is speculative decoding worth it?")
    url = reverse("papers:question_conclusion", args=[question.pk])
    _client_for(bob).post(
        url, {"status": "partly_answered", "conclusion": "Only for **long** outputs."}
    )
    response = alice_client.post(
        url, {"status": "answered", "conclusion": "Yes, 2x on our traffic."}, headers=htmx
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="conclusion">')
    assert "Yes, 2x on our traffic." in body and "<strong>long</strong>" in body
    question.refresh_from_db()
    assert (question.status, question.conclusion) == ("answered", "Yes, 2x on our traffic.")
    assert list(ConclusionRevision.objects.values_list("author__username", "status")) == [
        ("alice", "answered"),
        ("bob", "partly_answered"),
    ]


def test_saving_an_unchanged_conclusion_adds_no_revision(bob_client):
    question = factories.make_question()
    url = reverse("papers:question_conclusion", args=[question.pk])
    bob_client.post(url, {"status": "open", "conclusion": "Unclear."})
    bob_client.post(url, {"status": "open", "conclusion": "Unclear.  "})
    assert ConclusionRevision.objects.count() == 1


def test_bad_status_is_refused(bob_client):
    question = factories.make_question()
    url = reverse("papers:question_conclusion", args=[question.pk])
    response = bob_client.post(url, {"status": "solved", "conclusion": "x"})
    assert response.status_code == 400
    assert "not one of the available choices" in response.content.decode()
    assert not ConclusionRevision.objects.exists()


def test_question_page_shows_links_history_and_loads_candidates(bob_client, bob):
    question = factories.make_question(question="Mamba vs attention?")
    paper = factories.make_paper(title="Mamba")
    question.link_paper(paper, stance="supports", passage="Linear time", by=bob)
    question.revise_conclusion("Promising.", by=bob, status="partly_answered")
    body = bob_client.get(question.get_absolute_url()).content.decode()
    assert "Mamba" in body and "Linear time" in body and "Promising." in body
    assert reverse("papers:question_candidates", args=[question.pk]) in body


def test_removing_a_link_member_refused_lead_in_place(alice_client, bob, htmx):
    question = factories.make_question()
    link = question.link_paper(factories.make_paper(), stance="background")
    url = reverse("papers:question_unlink", args=[question.pk, link.pk])
    assert _client_for(bob).post(url).status_code == 403  # Members do not delete evidence
    response = alice_client.post(url, headers=htmx)
    assert 'id="evidence"' in response.content.decode()
    assert not QuestionLink.objects.exists()
