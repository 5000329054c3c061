import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from experiments.models import Criterion
from tests.factories import make_criterion, make_experiment, report_run

pytestmark = pytest.mark.django_db


def _seeds(experiment, variant, values, metric="accuracy"):
    for seed, value in enumerate(values, start=1):
        report_run(experiment=experiment, variant=variant, seed=seed, values={metric: value})


def test_metric_criterion_is_worded_from_its_fields():
    criterion = make_criterion(metric="latency_p99_ms", aggregation="p99", comparator="gt",
                               threshold=100, kind="kill", severity="hard")  # fmt: skip
    assert criterion.statement == "P99 latency_p99_ms of candidate > 100"


def test_criterion_can_be_edited_before_any_run():
    criterion = make_criterion(threshold=0.8)
    criterion.threshold = 0.85
    criterion.save()
    criterion.refresh_from_db()
    assert criterion.threshold == 0.85


def test_criterion_cannot_be_edited_once_a_run_has_reported():
    criterion = make_criterion(threshold=0.8)
    report_run(experiment=criterion.experiment, values={"accuracy": 0.9})
    criterion.threshold = 0.5
    with pytest.raises(ValidationError, match="supersede"):
        criterion.save()
    criterion.refresh_from_db()
    assert criterion.threshold == 0.8


def test_no_new_criterion_and_no_deletion_after_data():
    experiment = make_experiment()
    criterion = make_criterion(experiment=experiment)
    report_run(experiment=experiment, values={"accuracy": 0.9})
    with pytest.raises(ValidationError, match="Discovery criteria are frozen"):
        make_criterion(experiment=experiment, threshold=0.5)
    with pytest.raises(ValidationError):
        criterion.delete()
    assert Criterion.objects.filter(experiment=experiment).count() == 1


def test_supersede_keeps_the_old_criterion_and_the_reason(alice):
    criterion = make_criterion(threshold=0.8)
    report_run(experiment=criterion.experiment, values={"accuracy": 0.9})
    replacement = criterion.supersede(by=alice, reason="0.8 was the old eval set", threshold=0.75)
    criterion.refresh_from_db()
    assert criterion.superseded_by == replacement
    assert criterion.supersede_reason == "0.8 was the old eval set"
    assert replacement.threshold == 0.75 and replacement.statement.endswith("≥ 0.75")
    assert list(criterion.experiment.criteria.current()) == [replacement]
    event = criterion.experiment.events.get(kind="criterion", message__contains="superseded")
    assert "0.8 was the old eval set" in event.message and event.actor == alice


def test_supersede_needs_a_reason_and_happens_once(alice):
    criterion = make_criterion()
    with pytest.raises(ValidationError, match="Say why"):
        criterion.supersede(by=alice, reason="  ", threshold=0.7)
    criterion.supersede(by=alice, reason="first", threshold=0.7)
    with pytest.raises(ValidationError, match="already superseded"):
        Criterion.objects.get(pk=criterion.pk).supersede(by=alice, reason="again", threshold=0.6)


def test_database_refuses_a_kill_criterion_without_severity():
    experiment = make_experiment()
    with pytest.raises(IntegrityError), transaction.atomic():
        Criterion.objects.create(
            experiment=experiment, kind="kill", severity="", statement="security issue"
        )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"kind": "kill", "severity": ""}, "severity"),
        ({"kind": "success", "severity": "hard"}, "severity"),
        ({"threshold": None}, "threshold"),
        ({"threshold": float("nan")}, "threshold"),
        ({"comparator": ""}, "comparator"),
        ({"relative_to_baseline": True, "variant": "baseline"}, "variant"),
        ({"metric": "", "statement": ""}, "statement"),
    ],
)
def test_bad_criteria_are_refused_with_the_field_named(fields, field):
    with pytest.raises(ValidationError) as error:
        make_criterion(**fields)
    assert field in error.value.message_dict


def test_absolute_criterion_on_the_mean_of_candidate_runs():
    experiment = make_experiment()
    criterion = make_criterion(experiment=experiment, threshold=0.8, min_seeds=3)
    _seeds(experiment, "candidate", [0.79, 0.85, 0.83])
    _seeds(experiment, "baseline", [0.1, 0.1, 0.1])  # ignored by an absolute criterion
    experiment.evaluate()
    criterion.refresh_from_db()
    assert criterion.result == "holds" and criterion.result_label == "met"
    assert criterion.observed == pytest.approx(0.8233333)


def test_too_few_seeds_is_not_enough_evidence():
    experiment = make_experiment()
    criterion = make_criterion(experiment=experiment, min_seeds=3)
    _seeds(experiment, "candidate", [0.9, 0.9])
    experiment.evaluate()
    criterion.refresh_from_db()
    assert criterion.result == "insufficient"
    assert criterion.result_detail == "candidate has 2 of 3 seeds"


def test_relative_kill_criterion_trips_when_accuracy_drops_more_than_five_percent():
    experiment = make_experiment()
    criterion = make_criterion(experiment=experiment, kind="kill", severity="hard",
                               relative_to_baseline=True, comparator="lt", threshold=-5,
                               min_seeds=2)  # fmt: skip
    _seeds(experiment, "baseline", [0.80, 0.80])
    _seeds(experiment, "candidate", [0.75, 0.75])
    flags = experiment.evaluate()
    criterion.refresh_from_db()
    assert criterion.result_label == "tripped"
    assert criterion.observed == pytest.approx(-6.25)
    assert "change -6.25%" in criterion.result_detail
    assert flags == [f"Hard kill criterion tripped: {criterion.statement}"]
    assert experiment.should_stop() == (True, flags)


def test_relative_criterion_clear_when_the_drop_is_small():
    experiment = make_experiment()
    make_criterion(experiment=experiment, kind="kill", severity="hard",
                   relative_to_baseline=True, comparator="lt", threshold=-5)  # fmt: skip
    _seeds(experiment, "baseline", [0.80])
    _seeds(experiment, "candidate", [0.79])
    assert experiment.evaluate() == []
    assert experiment.criteria.get().result_label == "clear"
    assert experiment.should_stop() == (False, [])


@pytest.mark.parametrize(
    ("aggregation", "expected"),
    [("median", 25.0), ("max", 100.0), ("last", 30.0), ("p5", 11.5), ("p99", 97.9)],
)
def test_aggregations_over_runs(aggregation, expected):
    experiment = make_experiment()
    criterion = make_criterion(experiment=experiment, metric="latency", aggregation=aggregation,
                               comparator="gt", threshold=1000)  # fmt: skip
    for value in (10.0, 20.0, 100.0, 30.0):  # created in this order: "last" is 30
        report_run(experiment=experiment, values={"latency": value})
    experiment.evaluate()
    criterion.refresh_from_db()
    assert criterion.observed == pytest.approx(expected)


def test_soft_kill_criterion_does_not_flag():
    experiment = make_experiment()
    make_criterion(experiment=experiment, kind="kill", severity="soft", comparator="lt",
                   threshold=0.9)  # fmt: skip
    _seeds(experiment, "candidate", [0.5])
    assert experiment.evaluate() == []
    assert experiment.criteria.get().result_label == "tripped"


def test_qualitative_criterion_is_checked_by_hand(bob):
    criterion = make_criterion(metric="", statement="Works with our tokenizer")
    report_run(experiment=criterion.experiment, values={"accuracy": 0.9})
    criterion.check_by_hand(by=bob, holds=True, note="tried on the prod vocab")
    criterion.refresh_from_db()
    assert (criterion.result_label, criterion.checked_by) == ("met", bob)
    assert criterion.experiment.events.filter(kind="criterion").exists()


def test_machine_criterion_cannot_be_checked_by_hand(bob):
    with pytest.raises(ValidationError, match="evaluated from the runs"):
        make_criterion().check_by_hand(by=bob, holds=True)


def test_evaluation_is_idempotent():
    experiment = make_experiment()
    make_criterion(experiment=experiment, kind="kill", severity="hard", comparator="lt")
    _seeds(experiment, "candidate", [0.5])
    first = experiment.evaluate()
    assert experiment.evaluate() == first
    assert experiment.events.filter(kind="flag").count() == 1
