"""Research questions over the API: the same rules as the page, 4xx with specific messages."""

import pytest

from papers.models import ConclusionRevision, Passage, QuestionLink, ResearchQuestion
from papers.models.questions import ANSWERED_NEEDS_SUPPORT, LAST_SUPPORT
from tests import factories

pytestmark = pytest.mark.django_db

API = "/api/v1/papers/questions"


def _send(client, method, url, body):
    return getattr(client, method)(url, body, content_type="application/json")


def test_questions_need_a_login(client):
    assert client.get(API).status_code == 401


def test_questions_need_a_role(charlie_client):
    response = charlie_client.get(API)
    assert response.status_code == 403
    assert "papers.view_researchquestion" in response.json()["detail"]


def test_asking_reading_and_listing_questions(bob_client):
    created = _send(
        bob_client,
        "post",
        API,
        {"question": "Does GQA hurt quality?", "what_would_resolve": "An ablation at 7B"},
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["status"], body["created_by"], body["evidence"]) == ("open", "bob", [])
    factories.make_question(question="Another", status="partly_answered")
    listed = bob_client.get(API, {"status": "open"}).json()
    assert listed["count"] == 1 and listed["items"][0]["question"] == "Does GQA hurt quality?"
    one = bob_client.get(f"{API}/{body['id']}").json()
    assert one["what_would_resolve"] == "An ablation at 7B"
    assert bob_client.get(f"{API}/999999").status_code == 404


def test_updating_a_question(bob_client):
    question = factories.make_question(question="Old wording?")
    response = _send(
        bob_client, "patch", f"{API}/{question.pk}", {"what_would_resolve": "A 32k run"}
    )
    assert response.status_code == 200
    assert response.json()["question"] == "Old wording?"
    question.refresh_from_db()
    assert question.what_would_resolve == "A 32k run"
    empty = _send(bob_client, "patch", f"{API}/{question.pk}", {"question": ""})
    assert empty.status_code == 422 and "question" in empty.json()["detail"]
    blank = _send(bob_client, "patch", f"{API}/{question.pk}", {"question": "   "})
    assert blank.status_code == 400 and "question" in blank.json()["detail"]
    question.refresh_from_db()
    assert question.question == "Old wording?"


@pytest.mark.parametrize("kind", ["paper", "passage", "experiment", "run", "technique"])
def test_citing_each_kind_of_evidence(bob_client, kind):
    question = factories.make_question()
    paper = factories.make_paper(title="FlashAttention")
    target = {
        "paper": paper,
        "passage": Passage.objects.create(paper=paper, page=4, ordinal=1, text="3x faster"),
        "experiment": factories.make_experiment(),
        "run": factories.make_run(),
        "technique": factories.make_technique(),
    }[kind]
    data = {f"{kind}_id": target.pk, "stance": "supports", "rationale": "Measured", "quote": "q"}
    response = _send(bob_client, "post", f"{API}/{question.pk}/evidence", data)
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["stance"], body["rationale"], body["added_by"]) == ("supports", "Measured", "bob")
    evidence = QuestionLink.objects.get()
    if kind == "passage":
        assert (body["paper_id"], body["passage_id"], body["page"]) == (paper.pk, target.pk, 4)
        assert body["kind"] == "paper"
    else:
        assert getattr(evidence, kind) == target and body[f"{kind}_id"] == target.pk
    again = _send(
        bob_client, "post", f"{API}/{question.pk}/evidence", {**data, "stance": "context"}
    )
    assert again.status_code == 200 and again.json()["stance"] == "context"
    assert QuestionLink.objects.count() == 1


@pytest.mark.parametrize(
    "data, status, field, message",
    [
        ({"run_id": 999999}, 400, "run_id", "No run has id 999999."),
        ({"paper_id": 999999}, 400, "paper_id", "No paper has id 999999."),
        ({}, 400, None, "Give exactly one of paper_id, passage_id"),
        ({"run_id": "PLACEHOLDER", "technique_id": "PLACEHOLDER"}, 400, None, "Give exactly one"),
        ({"technique_id": True}, 422, "technique_id", "must be a number"),
        ({"technique_id": "PLACEHOLDER", "stance": "background"}, 422, "stance", ""),
        ({"technique_id": "PLACEHOLDER", "rationale": ""}, 422, "rationale", ""),
        ({"technique_id": "PLACEHOLDER", "rationale": "   "}, 400, "rationale", "blank"),
    ],
)
def test_bad_evidence_is_refused_with_a_specific_message(bob_client, data, status, field, message):
    question = factories.make_question()
    technique, run = factories.make_technique(), factories.make_run()
    ids = {"technique_id": technique.pk, "run_id": run.pk}
    data = {key: ids[key] if value == "PLACEHOLDER" else value for key, value in data.items()}
    body = {"stance": "supports", "rationale": "Because", **data}
    response = _send(bob_client, "post", f"{API}/{question.pk}/evidence", body)
    assert response.status_code == status, response.content
    answer = response.json()
    assert message in answer["detail"]
    if field:
        assert field in [error["field"] for error in answer["errors"]]
    assert not QuestionLink.objects.exists()


def test_setting_the_conclusion_keeps_history_and_needs_support(bob_client, bob):
    question = factories.make_question()
    url = f"{API}/{question.pk}/conclusion"
    refused = _send(bob_client, "put", url, {"conclusion": "Yes.", "status": "answered"})
    assert refused.status_code == 400
    assert refused.json()["detail"] == f"status: {ANSWERED_NEEDS_SUPPORT}"
    question.refresh_from_db()
    assert question.status == "open"

    question.link_paper(factories.make_paper(), stance="supports", rationale="2x")
    saved = _send(bob_client, "put", url, {"conclusion": "Yes, 2x.", "status": "answered"})
    assert saved.status_code == 200
    body = saved.json()
    assert (body["status"], body["conclusion"]) == ("answered", "Yes, 2x.")
    assert body["revisions"][0]["author"] == "bob"
    assert ConclusionRevision.objects.get().status == "answered"
    bad = _send(bob_client, "put", url, {"conclusion": "x", "status": "solved"})
    assert bad.status_code == 422 and "status" in bad.json()["detail"]


def test_removing_evidence_is_for_leads_and_keeps_an_answers_support(alice_client, bob):
    from django.test import Client

    question = factories.make_question()
    support = question.link_paper(factories.make_paper(), stance="supports", rationale="2x")
    context = question.add_evidence(factories.make_technique(), stance="context", rationale="y")
    question.revise_conclusion("Yes.", by=bob, status="answered")
    member = Client()
    member.force_login(bob)
    assert member.delete(f"{API}/{question.pk}/evidence/{context.pk}").status_code == 403
    assert alice_client.delete(f"{API}/{question.pk}/evidence/{context.pk}").status_code == 204
    refused = alice_client.delete(f"{API}/{question.pk}/evidence/{support.pk}")
    assert refused.status_code == 400 and refused.json()["detail"] == LAST_SUPPORT
    assert alice_client.delete(f"{API}/{question.pk}/evidence/999999").status_code == 404
    assert list(QuestionLink.objects.all()) == [support]


def test_the_openapi_schema_documents_the_question_endpoints(client):
    schema = client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    evidence = paths["/api/v1/papers/questions/{question_id}/evidence"]["post"]
    assert {"200", "201", "400", "401", "403", "404", "422"} <= set(evidence["responses"])
    assert "exactly one" in evidence["description"]
    conclusion = paths["/api/v1/papers/questions/{question_id}/conclusion"]["put"]
    assert "400" in conclusion["responses"]
    assert {"get", "patch"} <= set(paths["/api/v1/papers/questions/{question_id}"])
    assert {"get", "post"} <= set(paths["/api/v1/papers/questions"])
    assert "delete" in paths["/api/v1/papers/questions/{question_id}/evidence/{evidence_id}"]


def test_a_created_question_cannot_start_answered(bob_client):
    response = _send(bob_client, "post", API, {"question": "Q?", "status": "answered"})
    # status is not a creation field: the question starts open.
    assert response.status_code == 201 and response.json()["status"] == "open"
    assert ResearchQuestion.objects.get().status == "open"
