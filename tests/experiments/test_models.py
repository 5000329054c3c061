import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from experiments import tasks
from experiments.models import Experiment
from tests.factories import make_criterion, make_experiment, report_run

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


def test_payback_period_and_twelve_month_roi():
    experiment = make_experiment(
        engineer_weeks=Decimal("4"),
        engineer_week_cost=Decimal("5000"),
        compute_cost=Decimal("10000"),
        expected_benefit_per_month=Decimal("7500"),
    )
    assert experiment.total_cost == 30000
    assert experiment.payback_months == 4
    assert experiment.roi_12_months == 2  # (90,000 - 30,000) / 30,000


def test_no_benefit_means_no_payback():
    experiment = make_experiment(engineer_weeks=Decimal("2"))
    assert experiment.payback_months is None
    assert make_experiment().roi_12_months is None  # no cost either


def test_database_refuses_negative_costs_and_unknown_status():
    with pytest.raises(IntegrityError), transaction.atomic():
        make_experiment(compute_cost=Decimal("-1"))
    with pytest.raises(IntegrityError), transaction.atomic():
        make_experiment(status="paused")


def test_time_box_deadline_must_follow_its_start():
    experiment = make_experiment()
    with pytest.raises(ValidationError, match="deadline"):
        experiment.set_timebox("discovery", starts_on=TODAY, deadline=TODAY - DAY)


def test_expired_time_box_flags_and_says_stop():
    experiment = make_experiment()
    experiment.set_timebox("discovery", starts_on=TODAY - 20 * DAY, deadline=TODAY - DAY)
    flags = experiment.evaluate()
    assert flags == [f"Discovery time-box ended on {TODAY - DAY:%Y-%m-%d}"]
    assert list(Experiment.objects.flagged()) == [experiment]
    assert experiment.should_stop() == (True, flags)


def test_running_time_box_does_not_flag():
    experiment = make_experiment()
    experiment.set_timebox("discovery", starts_on=TODAY, deadline=TODAY)
    assert experiment.evaluate() == []
    assert not Experiment.objects.flagged().exists()


def test_nan_in_a_watched_metric_flags():
    experiment = make_experiment()
    make_criterion(experiment=experiment, metric="loss", comparator="lt", threshold=2.0)
    report_run(experiment=experiment, points={"loss": [2.5, 1.9, float("nan")], "lr": [1e-3]})
    assert experiment.evaluate() == ["NaN/Inf values in watched metric loss"]


def test_nan_in_an_unwatched_metric_does_not_flag():
    experiment = make_experiment()
    make_criterion(experiment=experiment, metric="loss", comparator="lt", threshold=2.0)
    report_run(experiment=experiment, points={"loss": [1.0], "grad_norm": [float("inf")]})
    assert experiment.evaluate() == []


def test_flag_clears_when_the_evidence_does(alice):
    experiment = make_experiment()
    experiment.set_timebox("discovery", starts_on=TODAY - 20 * DAY, deadline=TODAY - DAY)
    experiment.evaluate()
    experiment.set_timebox("discovery", starts_on=TODAY - 20 * DAY, deadline=TODAY + DAY,
                           by=alice, reason="one more seed")  # fmt: skip
    assert experiment.evaluate() == []
    experiment.refresh_from_db()
    assert experiment.flagged_since is None
    assert experiment.events.filter(message="No longer flagged").exists()


def test_closed_experiment_says_stop(alice):
    experiment = make_experiment()
    experiment.decide_gate("no", by=alice, learnings="no gain")
    assert experiment.should_stop() == (True, ["Experiment is killed"])


def test_evaluate_task_is_idempotent_and_ignores_deleted_experiments():
    experiment = make_experiment()
    make_criterion(experiment=experiment, kind="kill", severity="hard", comparator="lt")
    report_run(experiment=experiment, values={"accuracy": 0.2})
    first = tasks.evaluate_experiment.apply(args=[experiment.pk]).get()
    assert tasks.evaluate_experiment.apply(args=[experiment.pk]).get() == first
    assert tasks.evaluate_experiment.apply(args=[0]).get() is None


def test_periodic_check_flags_expired_time_boxes_of_active_experiments(alice):
    expired = make_experiment()
    expired.set_timebox("discovery", starts_on=TODAY - 30 * DAY, deadline=TODAY - DAY)
    closed = make_experiment()
    closed.set_timebox("discovery", starts_on=TODAY - 30 * DAY, deadline=TODAY - DAY)
    closed.decide_gate("no", by=alice, learnings="dead end")
    make_experiment()
    assert tasks.check_all_experiments.apply().get() == 1
    assert list(Experiment.objects.flagged()) == [expired]


def test_querysets_chain():
    mine = make_experiment(stage="validation")
    make_experiment()
    assert list(Experiment.objects.active().in_stage("validation")) == [mine]
    assert list(Experiment.objects.search(mine.key)) == [mine]
