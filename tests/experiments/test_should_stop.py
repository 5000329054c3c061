"""What should-stop answers once an experiment is decided (issue 13: "should-stop fires for
any non-active status, passed too, and the client then marks the run killed").

A stop is a kill: the client ends the run as killed. So a passed or shipped experiment never
says stop, whatever its criteria and time-box say (a killed one still does:
tests/experiments/test_models.py::test_closed_experiment_says_stop).
"""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Prefetch
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from experiments.enums import AttentionKind
from experiments.models import Criterion, Experiment
from tests.factories import make_criterion, make_experiment, make_token, report_run

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def experiment_with_every_stop_reason(status):
    """An experiment whose hard kill criterion tripped and whose time-box ran out."""
    experiment = make_experiment(key="EXP-12")
    make_criterion(experiment=experiment, kind="kill", severity="hard", comparator="lt",
                   threshold=0.5, min_seeds=1)  # fmt: skip
    report_run(experiment=experiment, seed=1, values={"accuracy": 0.2})
    experiment.set_timebox(
        experiment.stage, starts_on=TODAY - timedelta(days=20), deadline=TODAY - timedelta(days=1)
    )
    experiment.evaluate()
    assert experiment.should_stop()[0]
    experiment.status = status
    experiment.save(update_fields=["status"])
    return experiment


def should_stop_through_the_api(client, experiment):
    _, key = make_token(experiment=experiment, read_only=True)
    response = client.get(
        f"/api/v1/experiments/{experiment.key}/should-stop", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize("status", ["passed", "shipped"])
def test_a_passed_experiment_never_tells_its_jobs_to_stop(client, status):
    experiment = experiment_with_every_stop_reason(status)

    assert experiment.should_stop() == (False, [])
    assert should_stop_through_the_api(client, experiment) == {"stop": False, "reasons": []}


def test_flags_should_stop_and_the_agenda_read_the_same_attention_reasons():
    experiment = experiment_with_every_stop_reason("active")
    [kill] = experiment.criteria.all()

    reasons = experiment.attention_reasons()

    assert [(reason.kind, reason.criterion) for reason in reasons] == [
        (AttentionKind.HARD_KILL, kill),
        (AttentionKind.TIMEBOX_OVER, None),
    ]
    assert experiment.flags == [str(reason) for reason in reasons] == experiment.should_stop()[1]
    # The agenda reads them for many experiments at once, from prefetched rows.
    prefetched = Experiment.objects.prefetch_related(
        "timeboxes", Prefetch("criteria", queryset=Criterion.objects.current())
    ).get(pk=experiment.pk)
    the_day_before = timezone.now() - timedelta(days=1)
    with CaptureQueriesContext(connection) as queries:
        earlier = prefetched.attention_reasons(the_day_before, criteria=prefetched.criteria.all())
    assert [reason.kind for reason in earlier] == [AttentionKind.HARD_KILL]
    assert len(queries) == 0
