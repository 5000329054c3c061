"""The packed series (SeriesChunk), where a run's un-bucketed points are stored: it gives back
every point as it was sent, and the drift comparison that reads it answers as the points
themselves do, however they arrived, and at any length in the same queries."""

import math

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from experiments import drift
from experiments.models import MetricSummary, SeriesChunk
from experiments.models import chunks as chunks_module
from experiments.models.curves import TILE_SIZES
from tests.factories import make_experiment, report_run, stored_points

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    # Chunks of 64 points, so a few hundred points cross many chunk boundaries.
    monkeypatch.setattr(chunks_module, "CHUNK_SIZE", 64)


SENT = {}  # (run id, key): [(step, value, wall time)] of the batches stored, in order


@pytest.fixture(autouse=True)
def forget_sent():
    SENT.clear()


def _log(run, points, batch, key="loss"):
    points = [(int(step), float(value), 1.7e9 + int(step) / 8) for step, value in points]
    found = run.log_points(
        [{"key": key, "step": step, "value": value, "wall_time": wall}
         for step, value, wall in points],
        idempotency_key=batch,
    )  # fmt: skip
    if found[1]:
        SENT.setdefault((run.pk, key), []).extend(points)
    return found


def raw_series(run, key="loss"):
    """(steps, values) of the points as they were sent, in plain Python: the later value of a
    step logged twice wins, steps ascending. What the comparison must agree with."""
    by_step = {}
    for step, value, _ in SENT.get((run.pk, key), []):
        by_step[step] = value
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


def test_every_point_comes_back_as_it_was_sent():
    _, reference, run = awkward_runs()
    for stored in (reference, run):
        points = stored_points(stored, "loss")
        assert [point.seq for point in points] == list(range(len(points)))
        got = [(point.step, repr(point.value), point.wall_time) for point in points]
        sent = [(step, repr(value), wall) for step, value, wall in SENT[(stored.pk, "loss")]]
        assert got == sent  # NaN and infinities as sent
    assert MetricSummary.objects.get(run=run, key="loss").count == len(stored_points(run))


def test_a_retried_batch_or_fold_leaves_the_chunks_as_they_were():
    run = report_run(experiment=make_experiment(key="EXP-9"), name="mi300x", seed=1)
    first = [(step, 1 + step / 100) for step in range(100)]  # ends in the second chunk
    _log(run, first, "b1")
    stored = _chunks(run)
    _, created = _log(run, first, "b1")  # the client sends the batch again
    assert created is False and _chunks(run) == stored
    # The same points folded in twice (a fold retried after a failure) land where they were.
    again = SeriesChunk.points([run.pk], "loss", seq_from=50)[run.pk]
    assert again.seq.tolist() == list(range(50, 100))
    SeriesChunk.absorb({(run.pk, "loss"): again})
    assert _chunks(run) == stored
    _log(run, [(step, 3.0) for step in range(100, 140)], "b2")
    assert [count for _, count, _, _ in _chunks(run)] == [64, 64, 12]
    assert raw_series(run)[0].tolist() == list(range(140))
    assert np.array_equal(SeriesChunk.series([run.pk], "loss")[run.pk][1], raw_series(run)[1])


def test_a_fold_that_would_leave_a_gap_is_refused():
    run = report_run(experiment=make_experiment(key="EXP-9"), name="mi300x", seed=1)
    _log(run, [(step, 1.0) for step in range(10)], "b1")
    later = chunks_module.Points(*(np.array(column) for column in (
        [20, 21], [20, 21], [1.0, 1.0], [np.nan, np.nan])))  # fmt: skip
    with pytest.raises(ValueError, match="points from seq 20, stored up to 10"):
        SeriesChunk.absorb({(run.pk, "loss"): later})


def test_deleting_a_run_deletes_its_chunks_and_other_runs_keep_theirs():
    experiment, reference, run = awkward_runs()
    kept = _chunks(reference)
    run.delete()
    assert not SeriesChunk.objects.filter(run_id=run.pk).exists()
    assert _chunks(reference) == kept
    reference.delete()
    assert not SeriesChunk.objects.exists()


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
        SeriesChunk.series([run.pk], "loss")[run.pk][1], raw_series(run)[1], equal_nan=True
    )


@pytest.mark.django_db(transaction=True)
def test_the_migration_moves_a_series_from_its_point_rows_into_chunks():
    from django.db.migrations.executor import MigrationExecutor

    before = [("experiments", "0017_lighter_ingest")]
    after = [("experiments", "0018_series_stored_packed")]
    run = report_run(experiment=make_experiment(key="EXP-9"), name="mi300x", seed=1)
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    summary = old.get_model("experiments", "MetricSummary")
    point = old.get_model("experiments", "MetricPoint")
    # Points as they were stored: a row each, a missing value as NULL, step 3 logged twice.
    steps = [*range(150), 3]
    values = [None if step == 40 else 1 + step / 100 for step in steps]
    point.objects.bulk_create(
        [point(run_id=run.pk, key="loss", bucket="", step=step, value=value,
               wall_time=None if seq == 7 else 1.7e9 + seq, seq=seq)
         for seq, (step, value) in enumerate(zip(steps, values, strict=True))]
        + [point(run_id=run.pk, key="accuracy", bucket="long", step=0, value=0.5, seq=0)]
    )  # fmt: skip
    summary.objects.create(run_id=run.pk, key="loss", bucket="", count=151, first_step=0,
                           last_step=149, last_value=2.49)  # fmt: skip
    summary.objects.create(run_id=run.pk, key="accuracy", bucket="long", count=1, first_step=0,
                           last_step=0, last_value=0.5)  # fmt: skip
    old.get_model("experiments", "SeriesChunk").objects.create(
        run_id=run.pk, key="loss", start=0, count=0, steps=b"", values=b""
    )  # a copy that does not add up: replaced
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    chunk = new.get_model("experiments", "SeriesChunk")
    rows = chunk.objects.filter(run_id=run.pk, key="loss").order_by("start")
    assert [(row.start, row.count, row.step_min, row.step_max) for row in rows] == [
        (0, 64, 0, 63), (64, 64, 64, 127), (128, 23, 3, 149)]  # fmt: skip
    assert list(new.get_model("experiments", "MetricPoint").objects.values_list(
        "key", "bucket")) == [("accuracy", "long")]  # fmt: skip
    loss = new.get_model("experiments", "MetricSummary").objects.get(run_id=run.pk, key="loss")
    assert loss.last_wall_time == 1.7e9 + 149
    assert new.get_model("experiments", "CurveTile").objects.filter(
        run_id=run.pk, key="loss", level=len(TILE_SIZES) - 1).get().count == 151  # fmt: skip
    MigrationExecutor(connection).migrate(executor.loader.graph.leaf_nodes())
    stored = stored_points(run, "loss")
    assert [(p.step, repr(p.value)) for p in stored] == [
        (step, repr(math.nan if value is None else value))
        for step, value in zip(steps, values, strict=True)
    ]
    assert [p.wall_time for p in stored][6:9] == [1.7e9 + 6, None, 1.7e9 + 8]
