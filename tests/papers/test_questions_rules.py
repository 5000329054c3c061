"""The rules of research questions and their evidence, wherever a change comes from: the
model, the database, the admin, and the migration that turned paper links into evidence."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor

from papers.models import ConclusionRevision, Passage, QuestionLink
from papers.models.questions import ANSWERED_NEEDS_SUPPORT, LAST_SUPPORT
from tests import factories

pytestmark = pytest.mark.django_db


def test_evidence_cites_exactly_one_target_in_the_database():
    question = factories.make_question()
    paper, technique = factories.make_paper(), factories.make_technique()
    for targets in ({}, {"paper": paper, "technique": technique}):
        with pytest.raises(IntegrityError), transaction.atomic():
            QuestionLink.objects.create(
                question=question, stance="supports", rationale="x", **targets
            )
    with pytest.raises(ValidationError, match="exactly one thing"):
        QuestionLink(question=question, stance="supports", rationale="x").full_clean()


def test_evidence_needs_a_rationale_and_a_known_stance_in_the_database():
    question = factories.make_question()
    for fields in ({"rationale": ""}, {"stance": "background"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            QuestionLink.objects.create(
                question=question,
                paper=factories.make_paper(),
                **{"stance": "supports", "rationale": "x", **fields},
            )
    with pytest.raises(ValidationError) as refused:
        question.add_evidence(factories.make_paper(), stance="supports", rationale="  ")
    assert "rationale" in refused.value.message_dict


def test_a_passage_cites_its_paper_once():
    question = factories.make_question()
    paper = factories.make_paper()
    first = Passage.objects.create(paper=paper, page=2, ordinal=0, text="Setup")
    second = Passage.objects.create(paper=paper, page=9, ordinal=5, text="Result")
    question.add_evidence(first, stance="context", rationale="The setup")
    evidence = question.add_evidence(second, stance="supports", rationale="The result")
    assert (evidence.paper, evidence.passage, evidence.stance) == (paper, second, "supports")
    # Citing the paper again keeps the passage that matters.
    again = question.link_paper(paper, stance="supports", rationale="Still the result")
    assert (QuestionLink.objects.count(), again.passage) == (1, second)
    # Re-extracting the PDF replaces passages: the evidence stays on the paper.
    second.delete()
    again.refresh_from_db()
    assert (again.paper, again.passage) == (paper, None)


def test_answered_needs_a_conclusion_and_supporting_evidence():
    question = factories.make_question()
    with pytest.raises(ValidationError) as refused:
        question.revise_conclusion("Yes.", by=None, status="answered")
    assert refused.value.message_dict == {"status": [ANSWERED_NEEDS_SUPPORT]}
    question.refresh_from_db()
    question.add_evidence(factories.make_experiment(), stance="contradicts", rationale="Slower")
    with pytest.raises(ValidationError):
        question.revise_conclusion("Yes.", by=None, status="answered")
    question.refresh_from_db()
    question.add_evidence(factories.make_run(), stance="supports", rationale="2x faster")
    with pytest.raises(ValidationError, match="Write the conclusion"):
        question.revise_conclusion("", by=None, status="answered")
    question.refresh_from_db()
    assert question.revise_conclusion("Yes.", by=None, status="answered") is not None
    assert question.status == "answered"


def test_an_answer_keeps_its_last_support():
    question = factories.make_question()
    support = question.add_evidence(factories.make_technique(), stance="supports", rationale="x")
    question.revise_conclusion("Yes.", by=None, status="answered")
    with pytest.raises(ValidationError, match="only evidence supporting the answer"):
        question.remove_evidence(support)
    with pytest.raises(ValidationError, match="only evidence supporting the answer"):
        question.add_evidence(support.technique, stance="context", rationale="x")
    support.refresh_from_db()
    assert support.stance == "supports"
    # With a second support, either may go.
    question.add_evidence(factories.make_paper(), stance="supports", rationale="y")
    question.remove_evidence(support)
    assert question.evidence.count() == 1


def _admin_client(client):
    admin = factories.make_user(username="root", role=None, is_staff=True, is_superuser=True)
    client.force_login(admin)
    return client, admin


def _admin_data(question, evidence=(), **fields):
    data = {
        "question": question.question,
        "status": question.status,
        "conclusion": question.conclusion,
        "what_would_resolve": question.what_would_resolve,
        "created_by": "",
        "evidence-TOTAL_FORMS": len(evidence),
        "evidence-INITIAL_FORMS": len(evidence),
        "evidence-MIN_NUM_FORMS": 0,
        "evidence-MAX_NUM_FORMS": 1000,
        "revisions-TOTAL_FORMS": 0,
        "revisions-INITIAL_FORMS": 0,
        "revisions-MIN_NUM_FORMS": 0,
        "revisions-MAX_NUM_FORMS": 1000,
        **fields,
    }
    for index, item in enumerate(evidence):
        data.update(
            {
                f"evidence-{index}-id": item.pk,
                f"evidence-{index}-question": question.pk,
                f"evidence-{index}-paper": item.paper_id or "",
                f"evidence-{index}-passage": "",
                f"evidence-{index}-experiment": "",
                f"evidence-{index}-run": "",
                f"evidence-{index}-technique": "",
                f"evidence-{index}-stance": item.stance,
                f"evidence-{index}-rationale": item.rationale,
                f"evidence-{index}-quote": item.quote,
            }
        )
    return data


def test_the_admin_refuses_an_answer_without_support_and_keeps_history(client):
    client, admin = _admin_client(client)
    question = factories.make_question()
    url = f"/admin/papers/researchquestion/{question.pk}/change/"
    refused = client.post(url, _admin_data(question, status="answered", conclusion="Yes."))
    assert refused.status_code == 200 and ANSWERED_NEEDS_SUPPORT in refused.content.decode()
    question.refresh_from_db()
    assert question.status == "open"

    support = question.link_paper(factories.make_paper(), stance="supports", rationale="x")
    saved = client.post(url, _admin_data(question, [support], status="answered", conclusion="Yes."))
    assert saved.status_code == 302
    question.refresh_from_db()
    assert question.status == "answered"
    assert list(ConclusionRevision.objects.values_list("text", "status", "author")) == [
        ("Yes.", "answered", admin.pk)
    ]
    # Deleting the answer's only support inline is refused too.
    data = _admin_data(question, [support], **{"evidence-0-DELETE": "on"})
    response = client.post(url, data)
    assert response.status_code == 200 and LAST_SUPPORT in response.content.decode()
    assert QuestionLink.objects.filter(pk=support.pk).exists()


BEFORE = [("papers", "0005_passages")]
AFTER = [("papers", "0008_question_evidence")]


@pytest.mark.django_db(transaction=True)
def test_the_migration_keeps_existing_paper_links_as_evidence():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    question = old.get_model("papers", "ResearchQuestion").objects.create(question="Why?")
    Paper = old.get_model("papers", "Paper")
    quoted = Paper.objects.create(title="Quoted", entry_type="article")
    bare = Paper.objects.create(title="Bare", entry_type="article")
    links = old.get_model("papers", "QuestionLink").objects
    links.create(question=question, paper=quoted, stance="supports", passage="Table 2")
    links.create(question=question, paper=bare, stance="background")

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    evidence = new.get_model("papers", "QuestionLink").objects.order_by("paper__title")
    assert [(e.paper.title, e.stance, e.quote) for e in evidence] == [
        ("Bare", "context", ""),
        ("Quoted", "supports", "Table 2"),
    ]
    assert all(e.rationale.startswith("(Linked before evidence needed a reason") for e in evidence)

    # Backwards, the paper links come back as they were; other evidence has no place there.
    technique = factories.make_technique()  # radar is not migrated back: its tables serve
    evidence.model.objects.create(
        question_id=question.pk, technique_id=technique.pk, stance="supports", rationale="Adopted"
    )
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    links = executor.loader.project_state(BEFORE).apps.get_model("papers", "QuestionLink")
    assert sorted(links.objects.values_list("paper__title", "stance", "passage")) == [
        ("Bare", "background", ""),
        ("Quoted", "supports", "Table 2"),
    ]

    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
