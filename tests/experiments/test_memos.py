"""Decision memos (issue 8 §6): three write-ups of each gate decision, written from its snapshot,
and the knowledge-transfer sections an Integration YES requires."""

import datetime
import math
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from experiments.memos import memo_document, memos
from experiments.models import GateDecision, KnowledgeArtifact
from tests.factories import (
    give_only_baseline_evidence,
    make_criterion,
    make_experiment,
    make_review,
    make_run,
    make_technique,
    report_run,
)

pytestmark = pytest.mark.django_db


def _speculative_decoding():
    experiment = make_experiment(
        title="Speculative decoding on chat completions",
        technique=make_technique(name="Speculative decoding"),
        hypothesis="A draft model cuts P50 latency of chat completions by 40%.",
        engineer_weeks=Decimal("4"),
        engineer_week_cost=Decimal("5000"),
        compute_cost=Decimal("2000"),
        expected_benefit_per_month=Decimal("11000"),
    )
    make_criterion(experiment=experiment, metric="accuracy", comparator="ge", threshold=0.8)
    make_criterion(
        experiment=experiment,
        kind="kill",
        severity="soft",
        metric="latency_ms",
        aggregation="mean",
        comparator="gt",
        threshold=200,
    )
    for seed, (base, cand) in enumerate([(0.80, 0.86), (0.82, 0.89), (0.81, 0.87)], start=1):
        report_run(experiment=experiment, variant="baseline", seed=seed, name=f"base-s{seed}",
                   values={"accuracy": base, "latency_ms": 120})  # fmt: skip
        report_run(experiment=experiment, seed=seed, name=f"cand-s{seed}",
                   values={"accuracy": cand, "latency_ms": 70})  # fmt: skip
    experiment.evaluate()
    return experiment


def test_a_gate_decision_writes_the_three_memos_from_its_evidence(alice):
    experiment = _speculative_decoding()
    decision = experiment.decide_gate("yes", by=alice, notes="Latency win holds on 3 seeds")
    written = memos(decision)
    executive = written["executive"]
    assert executive.startswith(
        "We evaluated Speculative decoding for Speculative decoding on chat completions. "
        "Our assessment: **TRIAL**"
    )
    assert "The expected benefit is +7.8% accuracy (candidate against the baseline), " in executive
    assert "criteria met: mean accuracy of candidate ≥ 0.8 (observed 0.8733)" in executive
    assert "an expected 11,000 per month" in executive
    assert "implementation cost of 4 engineer-weeks and 2000 of compute (22000 in all)" in executive
    assert "We recommend we invest in a Validation stage on our own workload." in executive
    product = written["product"]
    assert "## What this technique does" in product
    assert "A draft model cuts P50 latency of chat completions by 40%." in product
    assert "- mean accuracy of candidate ≥ 0.8: met (observed 0.8733)" in product
    assert "Next: the Validation stage." in product
    engineering = written["engineering"]
    assert "| success | mean accuracy of candidate ≥ 0.8 | met | 0.8733 |" in engineering
    assert "| kill (soft) | mean latency_ms of candidate > 200 | clear | 70 |" in engineering
    assert "| accuracy | candidate | 3 / 3 |" in engineering  # the statistics, across seeds
    assert "- cand-s2: candidate, seed 2, finished — accuracy=0.89, latency_ms=70" in engineering
    assert "- Total cost: 22000" in engineering and "- Payback: 2.0 months" in engineering


def test_memos_never_change_after_the_decision(alice):
    experiment = _speculative_decoding()
    decision = experiment.decide_gate("yes", by=alice)
    before = memos(decision)
    experiment.title = "Renamed later"
    experiment.hypothesis = "Rewritten later"
    experiment.compute_cost = Decimal("99999")
    experiment.save()
    report_run(experiment=experiment, seed=9, name="late-run", values={"accuracy": 0.1})
    experiment.evaluate()
    assert memos(GateDecision.objects.get(pk=decision.pk)) == before
    assert "late-run" not in before["engineering"] and "Renamed later" not in before["executive"]


def test_memos_of_a_decision_against_the_evidence_say_so_with_reason_and_blockers(alice):
    experiment = make_experiment(title="MoE routing")
    snapshot = {
        "stage": "discovery",
        "flags": [],
        "criteria": [
            {
                "id": 1,
                "statement": "mean accuracy of candidate ≥ 0.8",
                "kind": "success",
                "severity": "",
                "result": "does_not_hold",
                "label": "not met",
                "observed": 0.7,
                "detail": "",
            }
        ],  # fmt: skip
        "statistics": [],
        "override": {
            "reason": "Strategic bet: the partner team needs it in Q3",
            "blockers": ["Success criterion not met: mean accuracy of candidate ≥ 0.8"],
        },
    }
    decision = GateDecision.objects.create(
        experiment=experiment, stage="discovery", round=1, decision="yes",
        question="Should we invest more time in this?", decided_by=alice, snapshot=snapshot,
    )  # fmt: skip
    for kind, text in memos(decision).items():
        assert "**Decided against the evidence.**" in text, kind
        assert "Strategic bet: the partner team needs it in Q3" in text, kind
        assert "- Success criterion not met: mean accuracy of candidate ≥ 0.8" in text, kind
    assert (
        "Key risk is decided against the evidence: success criterion not met"
        in (memos(decision)["executive"])
    )


def test_memos_say_why_they_have_no_statistics_when_only_the_baseline_counted(alice):
    # The runs section lists the baseline's metrics: "no metrics reported" would contradict it.
    experiment = make_experiment()
    give_only_baseline_evidence(experiment)
    decision = experiment.decide_gate("yes", by=alice, override_reason="Needed for the launch")
    written = memos(decision)
    # Nothing measured against the baseline and nothing met: the sentence still reads.
    assert (
        "The expected benefit is unproven: no success criterion was met, " in written["executive"]
    )
    engineering = written["engineering"]
    assert "accuracy=0.9" in engineering
    assert "No metrics reported" not in engineering
    assert "no metric had counted runs of both the baseline and another variant" in engineering


def test_the_page_lists_the_overridden_blockers_of_each_memo_as_a_list(alice, alice_client):
    # Python-Markdown runs a list straight after a paragraph line into it: "Blockers: - a - b".
    experiment = make_experiment()
    make_criterion(experiment=experiment, threshold=0.9)
    make_criterion(experiment=experiment, metric="latency_ms", comparator="le", threshold=50)
    report_run(experiment=experiment, values={"accuracy": 0.5, "latency_ms": 90})
    experiment.decide_gate("yes", by=alice, override_reason="Needed for the launch")
    html = alice_client.get(experiment.get_absolute_url()).content.decode()
    assert html.count("<p>Blockers at the time:</p>\n<ul>\n<li>Success criterion not met") == 3
    assert "Blockers at the time: - " not in html


def test_experiment_page_shows_the_memos_and_offers_them_as_markdown(alice, alice_client):
    experiment = _speculative_decoding()
    decision = experiment.decide_gate("yes", by=alice)
    html = alice_client.get(experiment.get_absolute_url()).content.decode()
    assert 'id="decision-memos"' in html
    for title in ("Executive summary", "Product memo", "Engineering detail"):
        assert title in html
    assert "We evaluated Speculative decoding" in html
    url = reverse("experiments:decision_memo", args=[experiment.pk, decision.pk])
    assert url in html
    response = alice_client.get(url)
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    document = response.content.decode()
    assert document.startswith(f"# {experiment.key}: Discovery gate, round 1")
    for heading in ("## Executive summary", "## Product memo", "## Engineering detail"):
        assert heading in document
    assert "### What this technique does" in document  # each memo's headings sit below
    assert document == memo_document(decision)


def test_memo_download_of_another_experiments_decision_is_404(alice, alice_client):
    decision = _speculative_decoding().decide_gate("yes", by=alice)
    other = make_experiment()
    url = reverse("experiments:decision_memo", args=[other.pk, decision.pk])
    assert alice_client.get(url).status_code == 404


def test_htmx_gate_decision_brings_its_memos_along(alice_client, htmx):
    experiment = _speculative_decoding()
    url = reverse("experiments:gate_decide", args=[experiment.pk])
    data = {"decision": "yes", "stage": "discovery", "round": 1}
    html = alice_client.post(url, data, headers=htmx).content.decode()
    assert '<section class="card" id="decision-memos" hx-swap-oob="true">' in html
    assert "Our assessment: <strong>TRIAL</strong>" in html


# --- knowledge transfer after an Integration YES ---


def _passed_integration(lead, owner=None):
    experiment = make_experiment(stage="integration", status="passed", owner=owner)
    GateDecision.objects.create(
        experiment=experiment, stage="integration", round=1, decision="yes",
        question="Should we keep this in production?", decided_by=lead,
        snapshot={"criteria": [], "statistics": [], "flags": []},
    )  # fmt: skip
    return experiment


def _write_url(experiment, kind):
    return reverse("experiments:handover_write", args=[experiment.pk, kind])


def test_integration_yes_opens_the_three_required_sections(alice, alice_client):
    experiment = _passed_integration(alice)
    html = alice_client.get(experiment.get_absolute_url()).content.decode()
    assert 'id="knowledge-transfer"' in html
    for label in ("Implementation notes", "Design decision record", "Runbook"):
        assert label in html
    assert html.count('<span class="badge warn">required</span>') == 3
    assert "alerting guidance; rollback procedure" in html  # the runbook's prompt, from the seed


def test_no_knowledge_transfer_section_before_integration_yes(alice, alice_client):
    experiment = make_experiment(stage="validation")
    html = alice_client.get(experiment.get_absolute_url()).content.decode()
    assert 'id="knowledge-transfer"' not in html
    response = alice_client.post(_write_url(experiment, "runbook"), {"runbook-body": "x"})
    assert response.status_code == 409
    assert "open when the Integration gate is answered YES" in response.content.decode()
    assert not KnowledgeArtifact.objects.exists()


def test_owner_writes_a_section_by_plain_post_and_it_is_in_the_history(alice, bob, bob_client):
    experiment = _passed_integration(alice, owner=bob)
    body = "Verify: p50 dashboard. Rollback: flip `spec_decode.enabled`."
    response = bob_client.post(_write_url(experiment, "runbook"), {"runbook-body": body})
    assert response.status_code == 302
    runbook = KnowledgeArtifact.objects.get(experiment=experiment, kind="runbook")
    assert runbook.body == body and runbook.written_by == bob
    assert experiment.events.filter(message="Runbook written", actor=bob).exists()


def test_design_decision_record_needs_alternatives_and_a_revisit_date(alice, alice_client, htmx):
    experiment = _passed_integration(alice)
    url = _write_url(experiment, "design_decision")
    response = alice_client.post(url, {"design_decision-body": "Chosen for latency"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Name the alternatives that were considered." in html
    assert "Say when this decision should be revisited." in html
    assert not KnowledgeArtifact.objects.exists()
    revisit = timezone.localdate() + datetime.timedelta(days=180)
    data = {
        "design_decision-body": "Chosen for latency",
        "design_decision-alternatives": "Medusa heads; quantised draft",
        "design_decision-revisit_on": revisit.isoformat(),
    }
    html = alice_client.post(url, data, headers=htmx).content.decode()
    assert html.lstrip().startswith('<section class="card" id="knowledge-transfer">')
    assert "Medusa heads; quantised draft" in html and f"Revisit on {revisit:%Y-%m-%d}" in html


def test_member_who_does_not_own_it_cannot_write_a_section(alice, bob_client):
    experiment = _passed_integration(alice)
    response = bob_client.post(_write_url(experiment, "runbook"), {"runbook-body": "x"})
    assert response.status_code == 403


def test_unknown_section_is_404(alice, alice_client):
    experiment = _passed_integration(alice)
    assert alice_client.post(_write_url(experiment, "poem"), {"poem-body": "x"}).status_code == 404


def test_item_stays_on_the_review_agenda_until_all_three_are_written(alice, alice_client):
    experiment = _passed_integration(alice)
    review = make_review(held_on=timezone.localdate())
    html = alice_client.get(review.get_absolute_url()).content.decode()
    assert "Knowledge transfer to write" in html
    assert (
        "Knowledge transfer still to write: Implementation notes, Design decision record, Runbook"
        in html
    )
    KnowledgeArtifact.write(experiment, "implementation", by=alice, body="In serving/spec.py")
    KnowledgeArtifact.write(experiment, "runbook", by=alice, body="Rollback: flag off")
    html = alice_client.get(review.get_absolute_url()).content.decode()
    assert "Knowledge transfer still to write: Design decision record" in html
    KnowledgeArtifact.write(
        experiment, "design_decision", by=alice, body="Latency", alternatives="Medusa",
        revisit_on=timezone.localdate() + datetime.timedelta(days=90),
    )  # fmt: skip
    html = alice_client.get(review.get_absolute_url()).content.decode()
    assert "Knowledge transfer still to write" not in html


def test_a_yes_overriding_the_evidence_is_flagged_in_every_memo(alice):
    experiment = make_experiment(title="MoE routing")
    make_criterion(experiment=experiment, threshold=0.8)
    report_run(experiment=experiment, seed=1, values={"accuracy": 0.6})
    experiment.evaluate()
    decision = experiment.decide_gate(
        "yes", by=alice, override_reason="Partner team needs it in Q3"
    )
    for kind, text in memos(decision).items():
        assert "**Decided against the evidence.**" in text, kind
        assert "Partner team needs it in Q3" in text, kind
        assert "Success criterion not met: mean accuracy of candidate ≥ 0.8" in text, kind


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # numpy and scipy on the overflow
def test_a_snapshot_spells_non_finite_numbers_as_run_summaries_do_and_reads_old_ones(alice):
    experiment = make_experiment()
    for variant in ("baseline", "candidate"):
        for seed, value in ((1, 1e308), (2, 1.7e308)):  # their mean overflows to infinity
            run = make_run(experiment=experiment, variant=variant, seed=seed)
            run.finish(summary={"tokens": value, "perplexity": math.inf})
    decision = experiment.decide_gate("not_yet", by=alice, conditions="Fewer tokens")

    [statistics] = [c for c in decision.snapshot["statistics"] if c["metric"] == "tokens"]
    assert statistics["baseline"]["mean"] == run.summary["perplexity"] == "Infinity"
    # Snapshots stored before spelled it "inf": their memos read the same.
    engineering = memos(decision)["engineering"]
    statistics["baseline"]["mean"] = "inf"
    assert memos(decision)["engineering"] == engineering
