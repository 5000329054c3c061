"""The criteria_and_runs_per_stage migration puts existing criteria and runs in the current
stage, and freezes a stage that already has runs from its first run."""

import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.factories import make_technique

BEFORE = [("experiments", "0004_experimentevent_edited_kind")]
AFTER = [("experiments", "0005_criteria_and_runs_per_stage")]


@pytest.mark.django_db(transaction=True)
def test_existing_criteria_and_runs_become_the_current_stages():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Experiment = old.get_model("experiments", "Experiment")
    # radar is not migrated back: its current tables (and factories) serve.
    technique = make_technique()
    with_runs = Experiment.objects.create(key="EXP-1", title="a", technique_id=technique.pk,
                                          stage="validation")  # fmt: skip
    without = Experiment.objects.create(key="EXP-2", title="b", technique_id=technique.pk)
    first_run = timezone.now() - datetime.timedelta(days=3)
    for experiment in (with_runs, without):
        old.get_model("experiments", "Criterion").objects.create(
            experiment=experiment, kind="success", statement="works"
        )
    old.get_model("experiments", "Run").objects.create(
        experiment=with_runs, name="r1", started_at=first_run
    )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    new = executor.loader.project_state(AFTER).apps
    Criterion = new.get_model("experiments", "Criterion")
    assert Criterion.objects.get(experiment_id=with_runs.pk).stage == "validation"
    assert Criterion.objects.get(experiment_id=without.pk).stage == "discovery"
    assert new.get_model("experiments", "Run").objects.get().stage == "validation"
    [freeze] = new.get_model("experiments", "StageFreeze").objects.all()
    assert (freeze.experiment_id, freeze.stage, freeze.frozen_at) == (
        with_runs.pk,
        "validation",
        first_run,
    )

    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
