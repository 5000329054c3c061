"""Metric curves at any length: tiles kept at ingest, and the chart data downsampled from them."""

import math

import numpy as np
import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from experiments import curves
from experiments.models import CurveTile, MetricSummary, Run
from experiments.models.curves import TILE_SIZES, rebuild, summarise
from tests.factories import make_experiment, make_run, report_run

pytestmark = pytest.mark.django_db

FIELDS = ("level", "index", *CurveTile.SUMMARY_FIELDS)


def _tiles(run, key="loss"):
    rows = CurveTile.objects.filter(run=run, key=key).order_by("level", "index")
    return [tuple(getattr(tile, name) for name in FIELDS) for tile in rows]


def _log(run, values, *, start=0, key="loss", batch="b"):
    points = [{"key": key, "step": start + i, "value": v} for i, v in enumerate(values)]
    return run.log_points(points, idempotency_key=batch)


def _url(experiment):
    return reverse("experiments:experiment_curves", args=[experiment.pk])


def _rounded(tiles):
    # Sums of the same floats in another grouping can differ in the last bit.
    return [tuple(round(v, 9) if isinstance(v, float) else v for v in tile) for tile in tiles]


def test_tiles_kept_at_ingest_match_tiles_built_from_all_points_at_once():
    run = make_run(experiment=make_experiment())
    rng = np.random.default_rng(1)
    values = rng.normal(size=1000).tolist()
    values[17] = math.nan
    values[400:450] = [math.nan] * 50  # a tile with no finite value at level 0
    values[901] = math.inf
    start = 0
    # Batches that cut tiles anywhere, so that stored tiles are extended again and again.
    for number, size in enumerate((5, 3, 250, 1, 111, 630)):
        _log(run, values[start : start + size], start=start, batch=f"b{number}")
        start += size
    assert start == len(values)
    incremental = _tiles(run)
    rebuild(MetricSummary.objects.filter(run=run, bucket="").values_list("run_id", "key"))
    assert _rounded(incremental) == _rounded(_tiles(run))
    top = CurveTile.objects.get(run=run, key="loss", level=len(TILE_SIZES) - 1)
    finite = [v for v in values if math.isfinite(v)]
    assert (top.count, top.finite) == (1000, len(finite))
    assert top.min_value == min(finite) and top.max_value == max(finite)
    assert top.gap_step == 17 and top.total == pytest.approx(sum(finite))
    empty = CurveTile.objects.get(run=run, key="loss", level=0, index=416 // 32)
    assert empty.finite == 0 and empty.min_value is None and empty.gap_step == 416


def test_batches_of_several_metrics_keep_each_metrics_tiles_apart():
    run = make_run(experiment=make_experiment())
    for batch in range(3):
        run.log_points(
            [{"key": key, "step": batch * 10 + i, "value": float(i * (2 if key == "lr" else 1))}
             for i in range(10) for key in ("loss", "lr")],
            idempotency_key=f"b{batch}",
        )  # fmt: skip
    incremental = {key: _tiles(run, key) for key in ("loss", "lr")}
    rebuild(MetricSummary.objects.filter(run=run, bucket="").values_list("run_id", "key"))
    assert incremental == {key: _tiles(run, key) for key in ("loss", "lr")}
    top = CurveTile.objects.get(run=run, key="lr", level=len(TILE_SIZES) - 1)
    assert (top.count, top.max_value, top.max_step) == (30, 18.0, 9)


def test_a_retried_batch_is_not_counted_twice_and_bucketed_points_have_no_tiles():
    run = make_run(experiment=make_experiment())
    _log(run, [1.0, 2.0, 3.0], batch="once")
    before = _tiles(run)
    _, created = _log(run, [1.0, 2.0, 3.0], batch="once")
    assert not created and _tiles(run) == before
    assert CurveTile.objects.get(run=run, level=0).count == 3
    run.log_points([{"key": "acc", "bucket": "long", "step": 0, "value": 0.5}],
                   idempotency_key="bucketed")  # fmt: skip
    assert not CurveTile.objects.filter(key="acc").exists()


def test_summarise_keeps_the_earliest_of_equal_extremes():
    tiles = summarise(1, "loss", np.arange(4), np.array([10, 11, 12, 13]),
                      np.array([2.0, 1.0, 1.0, 2.0]))  # fmt: skip
    level0 = tiles[0]
    assert (level0.min_step, level0.max_step, level0.first_step, level0.last_step) == (
        11, 10, 10, 13,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("count", "width", "level"),
    [(1000, 800, None), (12_768, 800, None), (12_769, 800, 0), (20_000, 800, 0),
     (1_000_000, 800, 3), (1_000_000, 4000, 1), (10**9, 800, 7)],
)  # fmt: skip
def test_level_is_the_coarsest_with_half_the_width_in_tiles(count, width, level):
    assert curves.level_for(count, width) == level
    if level is not None:
        assert math.ceil(count / TILE_SIZES[level]) >= width / 2


def _spiky_run(experiment, points, *, seed=0, **fields):
    rng = np.random.default_rng(seed)
    values = (np.sin(np.arange(points) / 500) + rng.normal(0, 0.1, points)).tolist()
    low, high = rng.choice(points, 2, replace=False).tolist()
    values[low], values[high] = -50.0, 50.0
    run = make_run(experiment=experiment, **fields)
    for start in range(0, points, 5000):
        _log(run, values[start : start + 5000], start=start, batch=f"b{start}")
    return run, values


@pytest.mark.parametrize("points", [300, 20_000])
def test_downsampled_series_keep_each_runs_lowest_and_highest_point(points):
    experiment = make_experiment()
    _, values = _spiky_run(experiment, points, name="a")
    _spiky_run(experiment, points // 3, seed=1, name="b")
    data = curves.curve_data(experiment, "loss", width=100)
    first = data["runs"][0]
    assert first["level"] == (None if points < 1600 else curves.level_for(points, 100))
    assert len(first["values"]) <= 102
    assert min(first["values"]) == -50.0 and max(first["values"]) == 50.0
    assert first["steps"] == sorted(first["steps"])
    assert first["steps"][0] == 0 and first["steps"][-1] == points - 1


def test_a_zoomed_window_is_read_at_the_resolution_it_needs():
    experiment = make_experiment()
    _spiky_run(experiment, 20_000, name="a")
    whole = curves.curve_data(experiment, "loss", width=100)["runs"][0]
    window = curves.curve_data(experiment, "loss", width=100, window=(5_000, 5_999))
    zoomed = window["runs"][0]
    assert window["window"] == [5_000, 5_999] and zoomed["points"] == 20_000
    assert zoomed["level"] is None or zoomed["level"] < whole["level"]
    inside = [s for s in zoomed["steps"] if 5_000 <= s <= 5_999]
    assert len(inside) > 90 and len(zoomed["steps"]) <= 102
    overview = [s for s in whole["steps"] if 5_000 <= s <= 5_999]
    assert len(inside) > 10 * len(overview)


def test_non_finite_values_become_gaps_and_the_band_spans_seeds():
    experiment = make_experiment()
    for seed in (1, 2, 3):
        report_run(experiment=experiment, variant="baseline", seed=seed,
                   points={"loss": [1.0 + seed, math.nan, 3.0 + seed, math.inf, 2.0]})  # fmt: skip
    data = curves.curve_data(experiment, "loss")
    assert data["runs"][0]["values"] == [2.0, None, 4.0, None, 2.0]
    (band,) = data["bands"]
    assert band["variant"] == "baseline" and band["runs"] == 3
    finite = [(m, lo, hi) for m, lo, hi in zip(band["mean"], band["low"], band["high"],
                                                strict=True) if m is not None]  # fmt: skip
    assert finite and all(lo <= m <= hi for m, lo, hi in finite)
    assert finite[0][0] == pytest.approx(3.0)  # the three runs' first values: 2, 3, 4


def test_the_band_counts_a_seed_reported_twice_once():
    experiment = make_experiment()
    report_run(experiment=experiment, seed=1, points={"loss": [5.0, 5.0]})
    report_run(experiment=experiment, seed=1, points={"loss": [1.0, 1.0]})
    report_run(experiment=experiment, seed=2, points={"loss": [3.0, 3.0]})
    (band,) = curves.curve_data(experiment, "loss")["bands"]
    assert band["runs"] == 2 and band["mean"][0] == pytest.approx(2.0)


def _queries(client, url, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(queries)


def test_query_count_is_the_same_at_1k_and_100k_points_per_run(bob_client):
    counts = {}
    for points in (1_000, 100_000):
        experiment = make_experiment()
        for seed in (1, 2):
            run = make_run(experiment=experiment, seed=seed, name=f"s{seed}")
            for start in range(0, points, 50_000):
                size = min(50_000, points - start)
                _log(run, np.linspace(2, 1, size).tolist(), start=start, batch=f"b{start}")
        Run.objects.filter(experiment=experiment).update(status="finished")
        data = bob_client.get(_url(experiment), {"metric": "loss"}).json()
        assert all(len(run["values"]) <= curves.DEFAULT_WIDTH + 2 for run in data["runs"])
        counts[points] = (
            _queries(bob_client, _url(experiment), metric="loss"),
            _queries(bob_client, experiment.get_absolute_url()),
        )
    assert counts[1_000] == counts[100_000]


def test_curves_need_the_same_access_as_the_page(bob_client, charlie):
    experiment = make_experiment()
    report_run(experiment=experiment, points={"loss": [1.0, 0.5]})
    url = _url(experiment)
    page = experiment.get_absolute_url()
    assert bob_client.get(url, {"metric": "loss"}).status_code == 200
    anonymous, no_role = Client(), Client()
    no_role.force_login(charlie)
    for client in (anonymous, no_role):
        assert client.get(page).status_code in (302, 403)
        assert client.get(url, {"metric": "loss"}).status_code == client.get(page).status_code
    missing = reverse("experiments:experiment_curves", args=[experiment.pk + 1000])
    assert bob_client.get(missing, {"metric": "loss"}).status_code == 404


@pytest.mark.parametrize(
    ("params", "status"),
    [({"metric": "loss", "width": "wide"}, 400), ({"metric": "loss", "width": "1e3"}, 400),
     ({"width": "800"}, 400), ({"metric": "accuracy"}, 404),
     ({"metric": "loss", "width": "5"}, 200), ({"metric": "loss", "width": "99999"}, 200),
     ({"metric": "loss", "from": "3"}, 400), ({"metric": "loss", "from": "a", "to": "4"}, 400),
     ({"metric": "loss", "from": "4", "to": "3"}, 400),
     ({"metric": "loss", "from": "0", "to": "1", "width": "100"}, 200)],
)  # fmt: skip
def test_curves_refuse_a_bad_width_or_metric(bob_client, params, status):
    experiment = make_experiment()
    report_run(experiment=experiment, points={"loss": [1.0, 0.5]})
    response = bob_client.get(_url(experiment), params)
    assert response.status_code == status
    if status == 200:
        assert response.json()["width"] in (curves.MIN_WIDTH, curves.MAX_WIDTH)
    else:
        assert response.json()["error"]


def test_backfill_command_rebuilds_lost_tiles():
    run = make_run(experiment=make_experiment())
    _log(run, [float(v) for v in range(100)])
    kept = _tiles(run)
    CurveTile.objects.all().delete()
    call_command("backfill_curve_tiles", stdout=open("/dev/null", "w"))
    assert _tiles(run) == kept


def test_a_window_past_the_largest_step_gives_empty_curves_not_an_error(bob_client):
    experiment = make_experiment()
    report_run(experiment=experiment, points={"loss": [1.0, 0.5]})  # read from its chunks
    _spiky_run(experiment, 20_000, name="long")  # read from its tiles
    beyond = bob_client.get(_url(experiment), {"metric": "loss", "from": "30000", "to": "40000"})
    for first, last in ((2**63, 2**64), (-(2**64), -(2**63) - 1)):
        window = {"metric": "loss", "from": str(first), "to": str(last)}
        response = bob_client.get(_url(experiment), window)
        assert response.status_code == 200
        assert response.json()["runs"] == beyond.json()["runs"]
