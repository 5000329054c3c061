import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from experiments.models import GateDecision, RadarMoveProposal
from tests.factories import (
    give_supporting_evidence,
    make_criterion,
    make_experiment,
    make_technique,
    report_run,
)

pytestmark = pytest.mark.django_db


def test_yes_advances_the_stage_and_opens_its_time_box(alice):
    experiment = make_experiment()
    give_supporting_evidence(experiment)
    decision = experiment.decide_gate("yes", by=alice, notes="prototype works")
    assert experiment.stage == "validation" and experiment.status == "active"
    assert decision.question == "Should we invest more time in this?"
    assert experiment.timebox("validation").deadline > experiment.timebox("validation").starts_on
    assert [e.kind for e in experiment.events.filter(kind__in=["gate", "stage"])] == [
        "stage",
        "gate",
    ]


def test_decision_stores_a_snapshot_of_criteria_and_statistics(alice):
    experiment = make_experiment()
    make_criterion(experiment=experiment, threshold=0.8)
    for seed in (1, 2, 3):
        baseline = 0.8 + (seed % 2) / 50
        report_run(
            experiment=experiment, variant="baseline", seed=seed, values={"accuracy": baseline}
        )
        report_run(experiment=experiment, seed=seed, values={"accuracy": 0.85 + seed / 100})
    experiment.evaluate()
    decision = experiment.decide_gate("yes", by=alice)
    [criterion] = decision.snapshot["criteria"]
    assert (criterion["label"], criterion["observed"]) == ("met", pytest.approx(0.87))
    [comparison] = decision.snapshot["statistics"]
    assert comparison["metric"] == "accuracy"
    assert comparison["candidate"]["n"] == 3 and comparison["paired"] is not None


def test_snapshot_does_not_change_when_the_evidence_does(alice):
    experiment = make_experiment()
    make_criterion(experiment=experiment, threshold=0.8)
    report_run(experiment=experiment, values={"accuracy": 0.9})
    experiment.evaluate()
    decision = experiment.decide_gate("yes", by=alice)
    report_run(experiment=experiment, values={"accuracy": 0.1})
    experiment.evaluate()
    decision.refresh_from_db()
    assert decision.snapshot["criteria"][0]["label"] == "met"
    with pytest.raises(ValidationError, match="cannot be changed"):
        decision.save()
    with pytest.raises(ValidationError, match="cannot be deleted"):
        decision.delete()


def test_member_cannot_decide_and_nothing_is_recorded(bob):
    experiment = make_experiment()
    with pytest.raises(PermissionDenied):
        experiment.decide_gate("yes", by=bob)
    assert not GateDecision.objects.exists()
    assert experiment.stage == "discovery"


def test_not_yet_needs_conditions(alice):
    experiment = make_experiment()
    give_supporting_evidence(experiment)
    with pytest.raises(ValidationError) as error:
        experiment.decide_gate("not_yet", by=alice, conditions=" ")
    assert "conditions" in error.value.message_dict
    decision = experiment.decide_gate("not_yet", by=alice, conditions="Run 3 more seeds")
    assert (decision.round, experiment.stage) == (1, "discovery")
    assert experiment.decide_gate("yes", by=alice, round=2).round == 2


def test_no_needs_learnings_and_kills_the_experiment(alice):
    experiment = make_experiment()
    with pytest.raises(ValidationError) as error:
        experiment.decide_gate("no", by=alice)
    assert "learnings" in error.value.message_dict
    experiment.decide_gate("no", by=alice, learnings="Gains vanish on long sequences")
    assert experiment.status == "killed"
    assert experiment.learnings == "Gains vanish on long sequences"
    assert experiment.events.filter(kind="status").exists()
    with pytest.raises(ValidationError, match="no gate is open"):
        experiment.decide_gate("yes", by=alice)


def test_no_at_integration_rolls_back(alice):
    experiment = make_experiment(stage="integration")
    experiment.decide_gate("no", by=alice, learnings="p99 regressed in production")
    assert experiment.status == "rolled_back"


def test_integration_yes_passes_and_proposes_adopt_which_a_lead_confirms(alice):
    technique = make_technique(ring="trial")
    experiment = make_experiment(technique=technique, stage="integration")
    give_supporting_evidence(experiment)
    experiment.decide_gate("yes", by=alice)
    assert experiment.status == "passed"
    proposal = experiment.radar_proposals.get(status="pending")
    assert proposal.ring == "adopt"
    with pytest.raises(ValidationError):
        proposal.confirm(by=alice, reason="")
    proposal.confirm(by=alice, reason="Passed integration; A/B positive")
    technique.refresh_from_db()
    assert technique.ring == "adopt"
    assert proposal.status == "confirmed"
    with pytest.raises(ValidationError, match="already decided"):
        proposal.confirm(by=alice, reason="again")


def test_member_cannot_confirm_the_radar_move(alice, bob):
    technique = make_technique(ring="trial")
    experiment = make_experiment(technique=technique, stage="integration")
    give_supporting_evidence(experiment)
    experiment.decide_gate("yes", by=alice)
    proposal = RadarMoveProposal.objects.get()
    with pytest.raises(PermissionDenied):
        proposal.confirm(by=bob, reason="I like it")
    technique.refresh_from_db()
    assert technique.ring == "trial"


def test_decision_on_a_gate_someone_just_decided_is_refused(alice):
    experiment = make_experiment()
    give_supporting_evidence(experiment)
    seen_round = experiment.open_gate_round()
    experiment.decide_gate("not_yet", by=alice, conditions="more seeds", round=seen_round)
    with pytest.raises(ValidationError, match="while you were looking"):
        experiment.decide_gate("yes", by=alice, stage="discovery", round=seen_round)
    assert GateDecision.objects.count() == 1


def test_database_allows_one_decision_per_gate_round(alice):
    experiment = make_experiment()
    give_supporting_evidence(experiment)
    experiment.decide_gate("yes", by=alice)
    with pytest.raises(IntegrityError), transaction.atomic():
        GateDecision.objects.create(
            experiment=experiment, stage="discovery", round=1, decision="no",
            question="?", decided_by=alice, snapshot={},
        )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        GateDecision.objects.create(
            experiment=experiment, stage="discovery", round=2, decision="no",
            question="?", decided_by=alice, snapshot={},
        )  # fmt: skip
    assert GateDecision.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_decisions_on_one_gate_record_exactly_one(alice):
    import threading

    from django.db import connection

    experiment = make_experiment()
    give_supporting_evidence(experiment)
    start = threading.Barrier(2)
    outcomes = []

    def decide(decision, **fields):
        start.wait()
        try:
            experiment.__class__.objects.get(pk=experiment.pk).decide_gate(
                decision, by=alice, stage="discovery", round=1, **fields
            )
            outcomes.append("recorded")
        except ValidationError as error:
            outcomes.append(error.messages[0])
        finally:
            connection.close()

    threads = [
        threading.Thread(target=decide, args=("yes",)),
        threading.Thread(target=decide, args=("no",), kwargs={"learnings": "too slow"}),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes)[-1] == "recorded"
    assert "decided this gate" in sorted(outcomes)[0]
    assert GateDecision.objects.filter(experiment=experiment).count() == 1
