"""Gates that cannot quietly pass against their evidence."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from experiments.models import Criterion, GateDecision
from tests.factories import (
    give_supporting_evidence,
    make_criterion,
    make_experiment,
    make_run,
    make_technique,
    report_run,
)

pytestmark = pytest.mark.django_db


def _refusal(experiment, by, **fields):
    with pytest.raises(ValidationError) as error:
        experiment.decide_gate("yes", by=by, **fields)
    return " ".join(error.value.messages)


def test_yes_without_criteria_is_refused_and_nothing_is_recorded(alice):
    experiment = make_experiment()
    message = _refusal(experiment, alice)
    assert "YES is refused" in message and "The Discovery stage has no criteria" in message
    assert not GateDecision.objects.exists()
    experiment.refresh_from_db()
    assert experiment.stage == "discovery"


def test_yes_is_refused_listing_every_reason(alice):
    experiment = make_experiment()
    make_criterion(experiment=experiment, statement="", threshold=0.8)  # will be unmet
    make_criterion(
        experiment=experiment, metric="latency", aggregation="mean", comparator="le", threshold=100
    )  # fmt: skip  (never reported: lacks evidence)
    make_criterion(experiment=experiment, kind="kill", comparator="lt", threshold=0.5)
    report_run(experiment=experiment, seed=1, values={"accuracy": 0.3})
    make_run(experiment=experiment, name="still-going", seed=2)
    message = _refusal(experiment, alice)
    assert "Success criterion not met: mean accuracy of candidate ≥ 0.8" in message
    assert "Success criterion lacks evidence: mean latency of candidate ≤ 100" in message
    assert "Hard kill criterion tripped: mean accuracy of candidate < 0.5" in message
    assert "1 Discovery run still running: still-going" in message


def test_the_decision_re_evaluates_rather_than_trusting_a_stored_result(alice):
    experiment = make_experiment()
    make_criterion(experiment=experiment, threshold=0.8)
    report_run(experiment=experiment, values={"accuracy": 0.3})
    # A stale stored result that says "met".
    Criterion.objects.update(result="holds", observed=0.9)
    assert "Success criterion not met" in _refusal(experiment, alice)
    decision = experiment.decide_gate("yes", by=alice, override_reason="exploratory anyway")
    assert decision.snapshot["criteria"][0]["label"] == "not met"
    assert decision.snapshot["criteria"][0]["observed"] == pytest.approx(0.3)


def test_an_override_is_recorded_against_the_evidence_everywhere(alice, alice_client):
    experiment = make_experiment(title="MTP at 7B")
    make_criterion(experiment=experiment, threshold=0.8)
    report_run(experiment=experiment, values={"accuracy": 0.3})
    decision = experiment.decide_gate(
        "yes", by=alice, override_reason="  the 7B run decides, not the 1B  "
    )
    assert decision.override_reason == "the 7B run decides, not the 1B"
    assert decision.snapshot["override"] == {
        "reason": "the 7B run decides, not the 1B",
        "blockers": [
            "Success criterion not met: mean accuracy of candidate ≥ 0.8 (candidate: 0.3)"
        ],
    }
    assert list(GateDecision.objects.against_evidence()) == [decision]
    event = experiment.events.get(kind="gate")
    assert "AGAINST THE EVIDENCE" in event.message and event.data["override"] is True

    page = alice_client.get(experiment.get_absolute_url()).content.decode()
    assert "against the evidence" in page and "the 7B run decides, not the 1B" in page
    panel = alice_client.get(reverse("experiments:home_panel")).content.decode()
    assert "1 gate decision against the evidence" in panel

    # The review agenda's part: tests/review/test_agenda.py.


def test_a_supported_yes_needs_no_override_and_is_not_counted_against(alice):
    experiment = make_experiment()
    give_supporting_evidence(experiment)
    decision = experiment.decide_gate("yes", by=alice, override_reason="not needed")
    assert decision.override_reason == "" and "override" not in decision.snapshot
    assert not GateDecision.objects.against_evidence().exists()


def test_only_finished_runs_count_for_success_but_kills_read_running_runs():
    experiment = make_experiment()
    success = make_criterion(experiment=experiment, threshold=0.8)
    kill = make_criterion(experiment=experiment, kind="kill", metric="loss", comparator="gt",
                          threshold=5)  # fmt: skip
    report_run(experiment=experiment, seed=1, points={"accuracy": [0.95], "loss": [9.0]})
    experiment.evaluate()
    success.refresh_from_db()
    kill.refresh_from_db()
    assert success.result == "insufficient"  # the running run's 0.95 does not count
    assert kill.result == "holds"  # but its loss stops the job while it runs


def test_a_seed_reported_twice_counts_once_the_latest_and_the_page_says_so(alice_client):
    experiment = make_experiment()
    criterion = make_criterion(experiment=experiment, threshold=0.8, min_seeds=1)
    report_run(experiment=experiment, seed=1, values={"accuracy": 0.95}, name="first-try")
    report_run(experiment=experiment, seed=1, values={"accuracy": 0.5}, name="second-try")
    experiment.evaluate()
    criterion.refresh_from_db()
    assert criterion.observed == pytest.approx(0.5)
    page = alice_client.get(experiment.get_absolute_url()).content.decode()
    assert "a seed reported twice counts once, the latest" in page
    assert "first-try: replaced by second-try (same variant and seed)" in page


def test_p99_is_taken_over_per_sample_values_when_the_job_logged_samples():
    experiment = make_experiment()
    criterion = make_criterion(experiment=experiment, metric="latency_ms", aggregation="p99",
                               comparator="le", threshold=150)  # fmt: skip
    # 99 fast requests and a slow one per run: the run summaries (means) all look fine.
    for seed in (1, 2):
        run = report_run(
            experiment=experiment, seed=seed, points={"latency_ms": [100] * 98 + [400] * 2}
        )
        run.finish(summary={"latency_ms": 106})
    experiment.evaluate()
    criterion.refresh_from_db()
    assert criterion.result == "does_not_hold"
    assert criterion.observed == pytest.approx(400)
    assert "over 200 per-sample values of 2 runs" in criterion.result_detail


def test_p5_is_taken_over_buckets_when_the_job_logged_bucketed_values():
    experiment = make_experiment()
    criterion = make_criterion(experiment=experiment, aggregation="p5", comparator="ge",
                               threshold=0.7)  # fmt: skip
    run = make_run(experiment=experiment, seed=1)
    run.log_points(
        [{"key": "accuracy", "step": 1, "value": v, "bucket": b}
         for b, v in (("short", 0.95), ("medium", 0.9), ("long", 0.4))],
        idempotency_key="buckets",
    )  # fmt: skip
    run.finish(summary={"accuracy": 0.9})
    experiment.evaluate()
    criterion.refresh_from_db()
    assert criterion.result == "does_not_hold"
    assert "over 3 per-bucket values of 1 runs" in criterion.result_detail


def test_a_percentile_over_run_summaries_is_labelled_across_runs():
    experiment = make_experiment()
    criterion = make_criterion(experiment=experiment, aggregation="p5", comparator="ge",
                               threshold=0.7)  # fmt: skip
    for seed, value in ((1, 0.8), (2, 0.9)):
        report_run(experiment=experiment, seed=seed, values={"accuracy": value})
    experiment.evaluate()
    criterion.refresh_from_db()
    assert "across runs: 2 run summaries" in criterion.result_detail


@pytest.mark.parametrize(("stage", "ring"), [("discovery", "skip"), ("integration", "hold")])
def test_no_proposes_the_matching_radar_move_for_a_lead_to_confirm(alice, stage, ring):
    technique = make_technique(ring="trial")
    experiment = make_experiment(technique=technique, stage=stage)
    experiment.decide_gate("no", by=alice, learnings="gains vanished at scale")
    proposal = experiment.radar_proposals.get(status="pending")
    assert proposal.ring == ring and "gains vanished at scale" in proposal.rationale
    technique.refresh_from_db()
    assert technique.ring == "trial"  # nothing moves until a Lead confirms
    proposal.confirm(by=alice, reason="as the gate said")
    technique.refresh_from_db()
    assert technique.ring == ring


def test_the_page_refuses_yes_with_the_reasons_and_takes_an_override(alice_client, htmx):
    experiment = make_experiment()
    url = reverse("experiments:gate_decide", args=[experiment.pk])
    fields = {"decision": "yes", "stage": "discovery", "round": 1}
    refused = alice_client.post(url, fields)
    assert refused.status_code == 409
    assert "The Discovery stage has no criteria" in refused.content.decode()
    in_place = alice_client.post(url, fields, headers=htmx)
    assert in_place.status_code == 200 and "YES is refused" in in_place.content.decode()
    assert not GateDecision.objects.exists()
    passed = alice_client.post(url, {**fields, "override_reason": "a spike, criteria next"})
    assert passed.status_code == 302
    assert GateDecision.objects.against_evidence().get().override_reason == "a spike, criteria next"
