"""The packed series (SeriesChunk) the drift comparison reads: its answers are the points' own,
whatever the points hold, however they arrived, and at any length in the same queries."""

import math

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from experiments import drift
from experiments.models import MetricPoint, SeriesChunk
from experiments.models import chunks as chunks_module
from tests.factories import make_experiment, report_run

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    # Chunks of 64 points, so a few hundred points cross many chunk boundaries.
    monkeypatch.setattr(chunks_module, "CHUNK_SIZE", 64)


def _log(run, points, batch, key="loss"):
    return run.log_points(
        [{"key": key, "step": int(step), "value": float(value)} for step, value in points],
        idempotency_key=batch,
    )


def raw_series(run, key="loss"):
    """(steps, values) straight from the point rows, in plain Python: the later value of a
    step logged twice wins, steps ascending. What the comparison must agree with."""
    by_step = {}
    for step, value in (
        MetricPoint.objects.filter(run=run, key=key, bucket="")
        .order_by("seq")
        .values_list("step", "value")
    ):
        by_step[step] = math.nan if value is None else value
    steps = sorted(by_step)
    return np.array(steps, dtype=np.int64), np.array([by_step[s] for s in steps], dtype=float)


def raw_comparison(reference, run, tolerance, key="loss", **options):
    return drift.compare(raw_series(reference, key), raw_series(run, key), tolerance, **options)


def plain_drift(reference, run, tolerance, key="loss"):
    """The headline figures step by step in plain Python, from the point rows, sharing no code
    with the numpy comparison: first divergent step, divergent steps, largest differences."""
    ref, cand = (dict(zip(*(a.tolist() for a in raw_series(r, key)), strict=True))
                 for r in (reference, run))  # fmt: skip
    first, divergent, largest = None, 0, {"abs": None, "rel": None}
    for step in sorted(ref.keys() & cand.keys()):
        a, b = ref[step], cand[step]
        if a == b or (math.isnan(a) and math.isnan(b)):
            beyond, differences = False, {"abs": 0.0, "rel": 0.0}
        else:
            difference = abs(b - a)
            bounds = [0.0]
            if tolerance.absolute is not None:
                bounds.append(tolerance.absolute)
            if tolerance.relative is not None:
                bounds.append(tolerance.relative * abs(a))
            beyond = not math.isfinite(difference) or difference > max(bounds)
            relative = difference / abs(a) if a != 0 else math.inf
            differences = {"abs": difference, "rel": relative}
        if beyond:
            divergent += 1
            first = step if first is None else first
        for name, value in differences.items():
            if math.isfinite(value) and (largest[name] is None or value > largest[name]["value"]):
                largest[name] = {"value": value, "step": step}
    return {"first_divergent_step": first, "divergent_steps": divergent,
            "max_abs": largest["abs"], "max_rel": largest["rel"]}  # fmt: skip


def _chunks(run, key="loss"):
    return list(
        SeriesChunk.objects.filter(run=run, key=key)
        .order_by("start")
        .values_list("start", "count", "steps", "values")
    )


def awkward_runs():
    """A reference and a still-running candidate with NaN, infinities, a step logged twice and
    steps the other run lacks, over several batches that end mid-chunk."""
    experiment = make_experiment(key="EXP-9")
    reference = report_run(experiment=experiment, name="h100", seed=1)
    run = report_run(experiment=experiment, name="mi300x", seed=1)
    rng = np.random.default_rng(3)
    values = 1 + rng.normal(0, 0.01, 300)
    _log(reference, enumerate(values[:150]), "r1")
    _log(reference, [(step, values[step]) for step in range(150, 300) if step % 7], "r2")
    other = values * (1 + 1e-7)
    other[200:] *= 1.01  # diverges from step 200 (a step the reference logged)
    other[[40, 41]] = [math.nan, math.inf]
    other[60] = -math.inf
    _log(run, enumerate(other[:97]), "c1")
    _log(run, [(5, 123.0), (97, other[97])], "c2")  # step 5 again: its later value counts
    _log(run, [(step, other[step]) for step in range(98, 260) if step % 11], "c3")
    return experiment, reference, run


def test_the_comparison_equals_the_one_computed_from_the_raw_points():
    experiment, reference, run = awkward_runs()
    tolerance = drift.Tolerance(absolute=1e-4, relative=1e-3)
    found = drift.report(experiment, reference=reference.pk, runs=[run.pk], tolerance=tolerance)
    (row,) = found["comparisons"]
    expected = raw_comparison(reference, run, tolerance)
    assert {key: row[key] for key in expected} == expected
    assert {key: row[key] for key in plain_drift(reference, run, tolerance)} == plain_drift(
        reference, run, tolerance
    )
    assert row["first_divergent_step"] == 5  # the re-logged step, not the NaN at 40
    assert row["max_abs"] == expected["max_abs"] and row["only_run"] == expected["only_run"] > 0
    last = drift.report(experiment, reference=reference.pk, runs=[run.pk], tolerance=tolerance,
                        last=30)["comparisons"][0]  # fmt: skip
    assert {key: last[key] for key in expected} == raw_comparison(
        reference, run, tolerance, last=30
    )


def test_a_run_still_reporting_is_compared_up_to_its_latest_point():
    experiment, reference, run = awkward_runs()
    tolerance = drift.Tolerance(relative=1e-3)
    before = drift.report(experiment, reference=reference.pk, runs=[run.pk], tolerance=tolerance)
    _log(run, [(step, 5.0) for step in range(260, 300)], "c4")
    after = drift.report(experiment, reference=reference.pk, runs=[run.pk], tolerance=tolerance)
    expected = raw_comparison(reference, run, tolerance)
    assert after["comparisons"][0]["last_step"] == 299 != before["comparisons"][0]["last_step"]
    assert {key: after["comparisons"][0][key] for key in expected} == expected


def test_the_query_count_does_not_grow_with_the_points_or_the_runs():
    def queries(points, runs):
        experiment = make_experiment(key=f"EXP-{points * 10 + runs}")
        made = []
        for index in range(runs):
            made.append(report_run(experiment=experiment, name=f"r{index}", seed=index))
            _log(made[-1], enumerate(np.linspace(1, 2, points) * (1 + index * 1e-3)), "b")
        with CaptureQueriesContext(connection) as captured:
            found = drift.report(experiment, reference=made[0].pk, runs=[r.pk for r in made[1:]],
                                 tolerance=drift.Tolerance(relative=1e-4))  # fmt: skip
        assert all(row["compared_steps"] == points for row in found["comparisons"])
        return len(captured)

    assert queries(10, 2) == queries(5_000, 2) == queries(5_000, 5)


def test_a_retried_batch_or_fold_leaves_the_chunks_as_they_were():
    run = report_run(experiment=make_experiment(key="EXP-9"), name="mi300x", seed=1)
    first = [(step, 1 + step / 100) for step in range(100)]  # ends in the second chunk
    _log(run, first, "b1")
    stored = _chunks(run)
    _, created = _log(run, first, "b1")  # the client sends the batch again
    assert created is False and _chunks(run) == stored
    # The same rows folded in twice (a fold retried after a failure) land where they were.
    rows = [
        (run.pk, "loss", "", step, value, None, seq)
        for step, value, seq in MetricPoint.objects.filter(run=run, seq__gte=50)
        .order_by("seq")
        .values_list("step", "value", "seq")
    ]
    seq, step, value = (
        np.array(column) for column in zip(*[(r[6], r[3], r[4]) for r in rows], strict=True)
    )
    SeriesChunk.absorb({(run.pk, "loss"): (seq, step, value.astype(float))})
    assert _chunks(run) == stored
    _log(run, [(step, 3.0) for step in range(100, 140)], "b2")
    assert [count for _, count, _, _ in _chunks(run)] == [64, 64, 12]
    assert raw_series(run)[0].tolist() == list(range(140))
    assert np.array_equal(MetricPoint.series([run.pk], "loss")[run.pk][1], raw_series(run)[1])


def test_deleting_a_run_deletes_its_chunks_and_other_runs_keep_theirs():
    experiment, reference, run = awkward_runs()
    kept = _chunks(reference)
    run.delete()
    assert not SeriesChunk.objects.filter(run_id=run.pk).exists()
    assert _chunks(reference) == kept
    reference.delete()
    assert not SeriesChunk.objects.exists()


def test_points_without_chunks_are_read_from_the_points_until_the_backfill():
    experiment, reference, run = awkward_runs()
    tolerance = drift.Tolerance(relative=1e-3)
    packed = {reference.pk: _chunks(reference), run.pk: _chunks(run)}
    # Points stored before chunks existed: none, or only the latest of them.
    SeriesChunk.objects.filter(run=reference).delete()
    SeriesChunk.objects.filter(run=run, start__lt=2 * 64).delete()
    _log(run, [(step, 2.0) for step in range(300, 310)], "c5")
    expected = raw_comparison(reference, run, tolerance)
    row = drift.report(experiment, reference=reference.pk, runs=[run.pk],
                       tolerance=tolerance)["comparisons"][0]  # fmt: skip
    assert {key: row[key] for key in expected} == expected
    call_command("backfill_series_chunks", experiment="EXP-9", stdout=open("/dev/null", "w"))
    assert _chunks(reference) == packed[reference.pk]
    assert sum(count for _, count, _, _ in _chunks(run)) == run.points.count()
    row = drift.report(experiment, reference=reference.pk, runs=[run.pk],
                       tolerance=tolerance)["comparisons"][0]  # fmt: skip
    assert {key: row[key] for key in expected} == expected


def test_a_long_series_without_chunks_is_compared_from_its_points():
    experiment = make_experiment(key="EXP-9")
    reference = report_run(experiment=experiment, name="h100", seed=1)
    run = report_run(experiment=experiment, name="mi300x", seed=1)
    _log(reference, enumerate(np.linspace(1, 2, 3000)), "r")
    _log(run, enumerate(np.linspace(1, 2, 3000) + 1e-3), "c")
    SeriesChunk.objects.all().delete()  # logged before chunks existed
    tolerance = drift.Tolerance(absolute=1e-4)
    row = drift.report(experiment, reference=reference.pk, runs=[run.pk],
                       tolerance=tolerance)["comparisons"][0]  # fmt: skip
    expected = raw_comparison(reference, run, tolerance)
    assert {key: row[key] for key in expected} == expected and row["first_divergent_step"] == 0


def test_small_batches_are_kept_as_pieces_and_merged_when_their_chunk_fills():
    run = report_run(experiment=make_experiment(key="EXP-9"), name="mi300x", seed=1)
    rng = np.random.default_rng(5)
    values = rng.normal(1, 0.1, 150)
    values[[7, 70]] = [math.nan, -math.inf]
    for step in range(150):  # a job sending one point a request
        _log(run, [(step, values[step])], f"s{step}")
        rows = _chunks(run)
        # Rows tile the series from seq 0 without gaps or overlaps, none past its chunk's end.
        assert [start for start, *_ in rows] == list(
            np.cumsum([0] + [count for _, count, _, _ in rows[:-1]])
        )
        assert all(start // 64 == (start + count - 1) // 64 for start, count, _, _ in rows)
        assert len(rows) <= (step + 1) // 64 + chunks_module.MAX_PIECES
    # Full chunks are one row each; the one being filled is in pieces of a few points.
    assert [count for _, count, _, _ in _chunks(run)][:2] == [64, 64]
    assert np.array_equal(
        MetricPoint.series([run.pk], "loss")[run.pk][1], raw_series(run)[1], equal_nan=True
    )


@pytest.mark.django_db(transaction=True)
def test_the_migration_rebuilds_chunks_of_the_old_layout_from_the_points():
    from django.db.migrations.executor import MigrationExecutor

    before = [("experiments", "0016_series_chunks")]
    after = [("experiments", "0017_lighter_ingest")]
    run = report_run(experiment=make_experiment(key="EXP-9"), name="mi300x", seed=1)
    _log(run, enumerate(np.linspace(1, 2, 150)), "b1")
    expected = raw_series(run)
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps.get_model("experiments", "SeriesChunk")
    old.objects.all().delete()
    # The old layout: one row per chunk, numbered; this one says it holds nothing.
    old.objects.create(run_id=run.pk, key="loss", index=0, count=0, steps=b"", values=b"")
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps.get_model("experiments", "SeriesChunk")
    rebuilt = new.objects.filter(run_id=run.pk, key="loss").order_by("start")
    assert [(chunk.start, chunk.count) for chunk in rebuilt] == [(0, 64), (64, 64), (128, 22)]
    steps = np.concatenate([np.frombuffer(chunk.steps, dtype="<i8") for chunk in rebuilt])
    assert steps.tolist() == expected[0].tolist()
    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
    assert np.array_equal(MetricPoint.series([run.pk], "loss")[run.pk][1], expected[1])
