"""What should-stop answers once an experiment is decided (issue 13: "should-stop fires for
any non-active status, passed too, and the client then marks the run killed").

A stop is a kill: the client ends the run as killed. So a passed or shipped experiment never
says stop, whatever its criteria and time-box say (a killed one still does:
tests/experiments/test_models.py::test_closed_experiment_says_stop).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

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
