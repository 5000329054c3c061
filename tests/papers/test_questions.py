"""The question page, where the work happens: evidence cited in place (papers, passages,
experiments, runs, techniques) with stance and why, the evidence map, candidates from search,
the conclusion and its history, and what would resolve the question."""

import pytest
from django.test import Client
from django.urls import reverse

from papers.models import ConclusionRevision, Passage, QuestionLink, ResearchQuestion
from papers.models.questions import ANSWERED_NEEDS_SUPPORT, LAST_SUPPORT
from tests import factories

pytestmark = pytest.mark.django_db

EVIDENCE = '<section class="card" id="evidence">'


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


def test_the_list_counts_every_kind_of_evidence(bob_client):
    question = factories.make_question(question="Is MoE worth it?")
    question.link_paper(factories.make_paper(), stance="supports", rationale="Table 3")
    question.add_evidence(factories.make_experiment(), stance="contradicts", rationale="No gain")
    body = bob_client.get(reverse("papers:question_list")).content.decode()
    assert "<td>2</td>" in body


def test_citing_a_paper_by_arxiv_id_with_plain_post(bob_client, bob):
    question = factories.make_question()
    paper = factories.make_paper(title="GQA", arxiv_id="2305.13245")
    url = reverse("papers:question_link", args=[question.pk])
    data = {
        "paper": "arXiv:2305.13245v3",
        "stance": "supports",
        "rationale": "Same quality at an eighth of the KV cache",
        "quote": "Table 1",
    }
    response = bob_client.post(url, data)
    assert response.status_code == 302
    link = QuestionLink.objects.get()
    assert (link.paper, link.stance, link.quote, link.added_by) == (
        paper,
        "supports",
        "Table 1",
        bob,
    )
    assert link.rationale == "Same quality at an eighth of the KV cache"


def test_citing_without_a_reason_is_refused(bob_client, htmx):
    question = factories.make_question()
    paper = factories.make_paper()
    url = reverse("papers:question_link", args=[question.pk])
    plain = bob_client.post(url, {"paper": f"#{paper.pk}", "stance": "supports"})
    assert plain.status_code == 400
    in_place = bob_client.post(
        url, {"paper": f"#{paper.pk}", "stance": "supports", "rationale": "   "}, headers=htmx
    )
    body = in_place.content.decode()
    assert body.lstrip().startswith(EVIDENCE) and "This field is required." in body
    assert not QuestionLink.objects.exists()


def test_citing_in_place_with_htmx_returns_the_evidence_map(bob_client, htmx):
    question = factories.make_question()
    paper = factories.make_paper(title="Switch Transformer")
    url = reverse("papers:question_link", args=[question.pk])
    data = {"paper": f"#{paper.pk}", "stance": "contradicts", "rationale": "Unstable at scale"}
    response = bob_client.post(url, data, headers=htmx)
    body = response.content.decode()
    assert body.lstrip().startswith(EVIDENCE)
    assert "Switch Transformer" in body and "Unstable at scale" in body
    # It lands in the "Contradicts" group, under papers.
    contradicts = body.split('id="evidence-contradicts"')[1].split('id="evidence-context"')[0]
    assert "Switch Transformer" in contradicts and "Papers and passages" in contradicts


def test_citing_an_unknown_paper_says_so(bob_client, htmx):
    question = factories.make_question()
    url = reverse("papers:question_link", args=[question.pk])
    data = {"paper": "10.9999/nothing", "stance": "supports", "rationale": "x"}
    plain = bob_client.post(url, data)
    assert plain.status_code == 400
    assert "No paper matches “10.9999/nothing”." in plain.content.decode()
    in_place = bob_client.post(url, {**data, "paper": "#999"}, headers=htmx)
    assert "No paper matches “#999”." in in_place.content.decode()
    assert not QuestionLink.objects.exists()


def test_citing_the_same_paper_again_updates_its_stance_and_reason(bob_client):
    question = factories.make_question()
    paper = factories.make_paper()
    url = reverse("papers:question_link", args=[question.pk])
    bob_client.post(url, {"paper": paper.pk, "stance": "supports", "rationale": "Fig. 2"})
    bob_client.post(
        url, {"paper": paper.pk, "stance": "context", "rationale": "Setup", "quote": "Sec. 2"}
    )
    assert list(QuestionLink.objects.values_list("stance", "rationale", "quote")) == [
        ("context", "Setup", "Sec. 2")
    ]


def test_citing_a_passage_shows_its_page(bob_client):
    question = factories.make_question()
    paper = factories.make_paper(title="FlashAttention")
    passage = Passage.objects.create(
        paper=paper, page=7, ordinal=3, text="IO-aware exact attention is 3x faster on GPT-2."
    )
    url = reverse("papers:question_link", args=[question.pk])
    data = {"paper": f"#{paper.pk}", "passage": passage.pk, "stance": "supports", "rationale": "x"}
    assert bob_client.post(url, data).status_code == 302
    assert QuestionLink.objects.get().passage == passage
    body = bob_client.get(question.get_absolute_url()).content.decode()
    assert "p. 7" in body and "IO-aware exact attention" in body


def test_a_passage_of_another_paper_is_refused(bob_client):
    question = factories.make_question()
    paper, other = factories.make_paper(), factories.make_paper()
    passage = Passage.objects.create(paper=other, page=1, ordinal=0, text="Elsewhere")
    url = reverse("papers:question_link", args=[question.pk])
    data = {"paper": f"#{paper.pk}", "passage": passage.pk, "stance": "supports", "rationale": "x"}
    response = bob_client.post(url, data)
    assert response.status_code == 400
    assert "That passage is from another paper." in response.content.decode()
    assert not QuestionLink.objects.exists()


@pytest.mark.parametrize("kind", ["experiment", "run", "technique"])
def test_citing_the_teams_work_from_the_page(bob_client, htmx, kind):
    question = factories.make_question()
    experiment = factories.make_experiment(title="Draft model at batch 8")
    target = {
        "experiment": experiment,
        "run": factories.make_run(experiment=experiment, name="seed-3"),
        "technique": factories.make_technique(name="Speculative decoding"),
    }[kind]
    url = reverse("papers:question_link_work", args=[question.pk])
    data = {kind: target.pk, "stance": "supports", "rationale": "2x at batch 8"}
    body = bob_client.post(url, data, headers=htmx).content.decode()
    evidence = QuestionLink.objects.get()
    assert getattr(evidence, kind) == target and evidence.rationale == "2x at batch 8"
    supports = body.split('id="evidence-supports"')[1].split('id="evidence-contradicts"')[0]
    expected_group = "Techniques" if kind == "technique" else "Experiments and runs"
    assert expected_group in supports and "2x at batch 8" in supports
    assert {
        "experiment": "Draft model at batch 8",
        "run": "seed-3",
        "technique": "Speculative decoding",
    }[kind] in supports


@pytest.mark.parametrize(
    "data, message",
    [
        ({}, "Choose one experiment, one run or one technique."),
        ({"run": 999999}, "No run has that id."),
    ],
)
def test_citing_work_needs_exactly_one_known_target(bob_client, data, message):
    question = factories.make_question()
    technique = factories.make_technique()
    url = reverse("papers:question_link_work", args=[question.pk])
    response = bob_client.post(url, {**data, "stance": "context", "rationale": "x"})
    assert response.status_code == 400 and message in response.content.decode()
    both = bob_client.post(
        url,
        {
            "run": factories.make_run().pk,
            "technique": technique.pk,
            "stance": "context",
            "rationale": "x",
        },
    )
    assert "Choose one experiment, one run or one technique." in both.content.decode()
    assert not QuestionLink.objects.exists()


def test_the_evidence_map_counts_by_stance_and_kind(bob_client):
    question = factories.make_question()
    for _ in range(2):
        question.link_paper(factories.make_paper(), stance="supports", rationale="Agrees")
    question.add_evidence(factories.make_run(), stance="supports", rationale="Our run agrees")
    question.add_evidence(factories.make_technique(), stance="contradicts", rationale="On hold")
    groups = {group["stance"]: group for group in question.evidence_map()}
    assert [group["count"] for group in groups.values()] == [3, 1, 0]
    assert [kind["count"] for kind in groups["supports"]["kinds"]] == [2, 1, 0]
    body = bob_client.get(question.get_absolute_url()).content.decode()
    supports = body.split('id="evidence-supports"')[1].split('id="evidence-contradicts"')[0]
    assert '<span class="count">3</span>' in supports
    assert 'Papers and passages <span class="count">2</span>' in supports
    assert 'Experiments and runs <span class="count">1</span>' in supports


def test_candidates_are_added_as_evidence_in_one_click(bob_client, htmx, fake_models, on_commit):
    with on_commit():
        question = factories.make_question(question="Does ring attention scale context?")
        paper = factories.make_paper(title="Ring attention with blockwise transformers")
    fragment = bob_client.get(reverse("papers:question_candidates", args=[question.pk]))
    html = fragment.content.decode()
    action = reverse("papers:question_link", args=[question.pk])
    assert f'id="candidate-{paper.pk}"' in html and f'hx-post="{action}"' in html
    assert f'name="paper" value="#{paper.pk}"' in html and 'name="rationale" required' in html

    data = {"paper": f"#{paper.pk}", "stance": "supports", "rationale": "Scales to 1M tokens"}
    response = bob_client.post(action, data, headers=htmx)
    body = response.content.decode()
    assert body.lstrip().startswith(EVIDENCE) and "Scales to 1M tokens" in body
    # The candidates load again (on the event the response triggers) without it.
    assert "evidence-added" in response["HX-Trigger"]
    again = bob_client.get(reverse("papers:question_candidates", args=[question.pk]))
    assert f'id="candidate-{paper.pk}"' not in again.content.decode()


def test_conclusion_edits_are_kept_as_visible_history(alice_client, bob, htmx):
    question = factories.make_question(question="Is speculative decoding worth it?")
    question.link_paper(factories.make_paper(), stance="supports", rationale="2x at batch 1")
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


def test_answering_without_supporting_evidence_is_refused_on_the_form(bob_client, htmx):
    question = factories.make_question()
    question.link_paper(factories.make_paper(), stance="contradicts", rationale="Slower")
    url = reverse("papers:question_conclusion", args=[question.pk])
    data = {"status": "answered", "conclusion": "Yes."}
    plain = bob_client.post(url, data)
    assert plain.status_code == 400 and ANSWERED_NEEDS_SUPPORT in plain.content.decode()
    in_place = bob_client.post(url, data, headers=htmx).content.decode()
    assert in_place.lstrip().startswith('<section class="card" id="conclusion">')
    assert ANSWERED_NEEDS_SUPPORT in in_place
    # The card shows what is saved: still open, no conclusion.
    assert "No conclusion yet." in in_place and ">Open</span>" in in_place
    question.refresh_from_db()
    assert (question.status, question.conclusion) == ("open", "")
    assert not ConclusionRevision.objects.exists()


def test_answering_without_a_conclusion_is_refused_on_the_form(bob_client):
    question = factories.make_question()
    question.link_paper(factories.make_paper(), stance="supports", rationale="Agrees")
    url = reverse("papers:question_conclusion", args=[question.pk])
    response = bob_client.post(url, {"status": "answered", "conclusion": "  "})
    assert response.status_code == 400
    assert "Write the conclusion before marking the question answered." in response.content.decode()


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


def test_what_would_resolve_this_is_edited_on_the_page(bob_client, htmx):
    question = factories.make_question()
    assert "Not said yet" in bob_client.get(question.get_absolute_url()).content.decode()
    url = reverse("papers:question_what_would_resolve", args=[question.pk])
    text = "Acceptance rate of a **draft model** on one day of our traffic"
    body = bob_client.post(url, {"what_would_resolve": text}, headers=htmx).content.decode()
    assert body.lstrip().startswith('<section class="card" id="resolve">')
    assert "<strong>draft model</strong>" in body
    question.refresh_from_db()
    assert question.what_would_resolve == text
    plain = bob_client.post(url, {"what_would_resolve": "<script>alert(1)</script>A 7B run"})
    assert plain.status_code == 302
    page = bob_client.get(question.get_absolute_url()).content.decode()
    assert "A 7B run" in page and "<script>alert(1)" not in page


def test_question_page_shows_evidence_history_and_loads_candidates(bob_client, bob):
    question = factories.make_question(question="Mamba vs attention?")
    paper = factories.make_paper(title="Mamba")
    question.link_paper(paper, stance="supports", rationale="Linear time", quote="Sec. 3", by=bob)
    question.revise_conclusion("Promising.", by=bob, status="partly_answered")
    body = bob_client.get(question.get_absolute_url()).content.decode()
    assert "Mamba" in body and "Linear time" in body and "Sec. 3" in body
    assert "Promising." in body and "Partly answered" in body
    assert reverse("papers:question_candidates", args=[question.pk]) in body


def test_removing_evidence_member_refused_lead_in_place(alice_client, bob, htmx):
    question = factories.make_question()
    link = question.link_paper(factories.make_paper(), stance="context", rationale="Setup")
    url = reverse("papers:question_unlink", args=[question.pk, link.pk])
    assert _client_for(bob).post(url).status_code == 403  # Members do not delete evidence
    response = alice_client.post(url, headers=htmx)
    assert response.content.decode().lstrip().startswith(EVIDENCE)
    assert not QuestionLink.objects.exists()


def test_removing_the_only_support_of_an_answer_is_refused(alice_client, htmx):
    question = factories.make_question()
    link = question.link_paper(factories.make_paper(), stance="supports", rationale="Agrees")
    question.revise_conclusion("Yes.", by=None, status="answered")
    url = reverse("papers:question_unlink", args=[question.pk, link.pk])
    plain = alice_client.post(url)
    assert plain.status_code == 409 and LAST_SUPPORT in plain.content.decode()
    in_place = alice_client.post(url, headers=htmx).content.decode()
    assert in_place.lstrip().startswith(EVIDENCE) and LAST_SUPPORT in in_place
    assert QuestionLink.objects.filter(pk=link.pk).exists()


def test_the_history_shows_what_each_revision_changed(bob_client, bob):
    question = factories.make_question()
    question.revise_conclusion("Helps at batch 1.", by=bob, status="partly_answered")
    question.revise_conclusion("Helps at batch 1 to 4 <b>only</b>.", by=bob)
    body = bob_client.get(question.get_absolute_url()).content.decode()
    changes = body.split('class="revision-changes"')
    assert len(changes) == 2  # the first revision changed nothing before it
    assert "<del>1.</del> <ins>1 to 4 &lt;b&gt;only&lt;/b&gt;.</ins>" in changes[1]


def test_citing_in_place_reloads_the_candidates_which_leave_out_what_is_cited(
    bob_client, htmx, fake_models, on_commit
):
    question = factories.make_question(question="Does grouped-query attention keep quality?")
    with on_commit():
        gqa = factories.make_paper(title="Grouped-query attention keeps quality")
        mqa = factories.make_paper(title="Multi-query attention keeps quality too")
    candidates_url = reverse("papers:question_candidates", args=[question.pk])
    page = bob_client.get(question.get_absolute_url()).content.decode()
    assert 'hx-trigger="load, evidence-added from:body"' in page
    assert (
        f'id="candidate-{gqa.pk}"' in bob_client.get(candidates_url, headers=htmx).content.decode()
    )

    url = reverse("papers:question_link", args=[question.pk])
    data = {"paper": f"#{gqa.pk}", "stance": "supports", "rationale": "Table 2"}
    response = bob_client.post(url, data, headers=htmx)
    assert response["HX-Trigger"] == '{"evidence-added": {}}'
    assert "hx-swap-oob" not in response.content.decode()  # no target that may not be there
    after = bob_client.get(candidates_url, headers=htmx).content.decode()
    assert f'id="candidate-{gqa.pk}"' not in after and f'id="candidate-{mqa.pk}"' in after
