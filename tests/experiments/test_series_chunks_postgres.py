"""The packed series on a real PostgreSQL (bytea, COPY-inserted points): the drift comparison
answers as the raw points do, in the same queries at any length, for more runs than one
statement binds on the server, and a retried batch or a deleted run leaves the chunks right."""

import json

import pytest

from tests.services import manage, migrated_database, service_env

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

SCRIPT = """
import json, math
import numpy as np
from django.db import connection
from django.test.utils import CaptureQueriesContext
from experiments import drift
from experiments.models import Experiment, MetricSummary, Run, SeriesChunk
from experiments.models.chunks import CHUNK_SIZE
from radar.models import Quadrant, Technique
from django.contrib.auth.models import User
from tests.factories import stored_points

user = User.objects.create_user("lead")
technique = Technique(name="T", slug="t", quadrant=Quadrant.objects.get_or_create(name="Q")[0])
technique.move_to("assess", by=user, reason="test", owner=user)
found = {}

def log(run, points, batch):
    return run.log_points([{"key": "loss", "step": int(s), "value": float(v)} for s, v in points],
                          idempotency_key=batch)[1]

def raw(run):
    by_step = {}
    for point in stored_points(run, "loss"):
        by_step[point.step] = math.nan if point.value is None else point.value
    steps = sorted(by_step)
    return np.array(steps, dtype=np.int64), np.array([by_step[s] for s in steps])

def chunks(run):
    return [(i, c, bytes(s), bytes(v)) for i, c, s, v in SeriesChunk.objects.filter(run=run)
            .order_by("start").values_list("start", "count", "steps", "values")]

for size in (50, 2 * CHUNK_SIZE + 100):
    experiment = Experiment.objects.create(key=f"EXP-{size}", title="t", technique=technique,
                                           owner=user)
    reference = Run.objects.create(experiment=experiment, name="h100", seed=1)
    run = Run.objects.create(experiment=experiment, name="mi300x", seed=1)
    values = 1 + np.random.default_rng(size).normal(0, 0.01, size)
    other = values * (1 + 1e-7)
    other[size // 2:] *= 1.01
    other[[3, 4, 5]] = [math.nan, math.inf, -math.inf]
    half = size // 2 + 7
    log(reference, enumerate(values[:half]), "r1")
    log(reference, [(s, values[s]) for s in range(half, size) if s % 5], "r2")
    log(run, enumerate(other[:half]), "c1")
    stored = chunks(run)
    retried = log(run, enumerate(other[:half]), "c1")
    same_after_retry = chunks(run) == stored and retried is False
    log(run, [(2, 9.0)] + [(s, other[s]) for s in range(half, size - 3)], "c2")
    tolerance = drift.Tolerance(absolute=1e-4, relative=1e-3)
    with CaptureQueriesContext(connection) as queries:
        row = drift.report(experiment, reference=reference.pk, runs=[run.pk],
                           tolerance=tolerance)["comparisons"][0]
    expected = drift.compare(raw(reference), raw(run), tolerance)
    found[size] = {
        "equal": {k: row[k] for k in expected} == expected,
        "first": row["first_divergent_step"],
        "queries": len(queries),
        "retry": same_after_retry,
        "packed": [p.seq for p in stored_points(run)] == list(range(
            MetricSummary.objects.get(run=run, key="loss").count)),
    }
    # More runs than PostgreSQL binds on the server in one statement: still one answer.
    many = SeriesChunk.series([reference.pk, *range(10**9, 10**9 + 70_000)], "loss")
    found[size]["many_runs"] = list(many) == [reference.pk] and np.array_equal(
        many[reference.pk][0], SeriesChunk.series([reference.pk], "loss")[reference.pk][0])
    # No runs at all (Django knows before asking that nothing matches): nothing, as the ORM says.
    found[size]["no_runs"] = SeriesChunk.series([], "loss") == SeriesChunk.points([], "loss") == {}
    run.delete()
    found[size]["deleted"] = not SeriesChunk.objects.filter(run_id=run.pk).exists()
print("RESULT", json.dumps(found))
"""


def test_the_packed_series_answers_as_the_points_do_on_postgresql(request, tmp_path_factory):
    _, database_url = migrated_database(request, tmp_path_factory, "assay_chunks")
    env = service_env(
        DATABASE_URL=database_url,
        REDIS_URL=None,
        ASSAY_DATA_DIR=str(tmp_path_factory.mktemp("chunks-data")),
        ASSAY_TASKS_IN_BACKGROUND="false",
    )
    output = manage(env, "shell", "-c", SCRIPT, timeout=300)
    line = next(line for line in output.splitlines() if line.startswith("RESULT "))
    small, large = json.loads(line.removeprefix("RESULT ")).values()
    for found in (small, large):
        assert found["equal"] and found["retry"] and found["packed"] and found["deleted"]
        assert found["many_runs"] and found["no_runs"]
        assert found["first"] == 2  # the step logged again, 9.0 against about 1
    assert small["queries"] == large["queries"]
