"""Experiment page and chart-data times and query counts, at 1,000 and 1,000,000 points per run.

Two experiments of 20 runs each (10 baseline, 10 candidate seeds) on a fresh SQLite database:
one with 1,000 loss points per run, one with 1,000,000 (20 million points). The points are
bulk-loaded as the chunks they are stored in (experiments.models.chunks.pack) with their
per-series summary and chart tiles (experiments.models.curves.tile_rows, what ingest keeps);
a few bucketed points go in through Run.log_points, the API's path. Timed, through
Django's test client as a Lead, after a warm-up: the page itself, and the chart data the page's
script fetches (experiment_curves at 800 pixels: every run downsampled by tsdownsample). The
target: under 300 ms p95 each, and query counts that do not grow with the number of points.
Also timed, beside them: the drift comparison of the first baseline run against up to four
other runs (experiments:experiment_drift, every point of each read from its chunks and
differenced in numpy).

    .venv/bin/python bench/experiment_page.py [--points 1000000] [--runs 20] [--repeat 20]
"""

import argparse
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import django_in_scratch_dir, machine, percentile  # noqa: E402

WIDTH = 800


def build(key, *, runs, points, user):
    from experiments.models import Criterion, Experiment, MetricSummary, Run
    from radar.models import Quadrant, Technique

    quadrant, _ = Quadrant.objects.get_or_create(name="Techniques")
    technique = Technique(name=f"Technique for {key}", slug=key.lower(), quadrant=quadrant)
    technique.move_to("assess", by=user, reason="bench", owner=user)
    experiment = Experiment.objects.create(key=key, title=f"{points:,} points per run",
                                           technique=technique, owner=user)  # fmt: skip
    for fields in (
        {"kind": "kill", "severity": "hard", "metric": "accuracy", "aggregation": "mean",
         "comparator": "lt", "threshold": -5, "relative_to_baseline": True},
        {"kind": "success", "metric": "loss", "aggregation": "max", "comparator": "lt",
         "threshold": 2.0},
    ):  # fmt: skip
        Criterion(experiment=experiment, **fields).save()
    rng = np.random.default_rng(0)
    steps = np.arange(points, dtype=np.int64)
    for index in range(runs):
        variant = "baseline" if index % 2 == 0 else "candidate"
        run = Run.objects.create(experiment=experiment, name=f"{variant}-s{index // 2}",
                                 variant=variant, seed=index // 2)  # fmt: skip
        run.log_points(
            [{"key": "accuracy", "step": 0, "bucket": bucket, "value": 0.8 + offset}
             for bucket, offset in (("short", 0.02), ("long", -0.05))],
            idempotency_key="bench-buckets",
        )  # fmt: skip
        loss = 2.4 * np.exp(-steps / (points / 4)) + 0.6 + rng.normal(0, 0.02, points)
        load_series(run, "loss", steps, loss)
        MetricSummary.objects.create(run=run, key="loss", count=points, first_step=0,
                                     last_step=points - 1, last_value=float(loss[-1]))  # fmt: skip
        accuracy = 0.80 + rng.normal(0, 0.005) - (0.01 if variant == "candidate" else 0)
        latency = 100 + rng.normal(0, 3) - (20 if variant == "candidate" else 0)
        run.finish(summary={"accuracy": accuracy, "latency_ms": latency})
    experiment.evaluate()
    return experiment


def load_series(run, key, steps, values):
    """Chunks and tiles of one series in bulk: what ingest stores, without per-batch work."""
    from django.db import transaction

    from experiments.models import CurveTile, SeriesChunk
    from experiments.models.chunks import pack
    from experiments.models.curves import tile_rows

    seq = np.arange(len(steps), dtype=np.int64)
    with transaction.atomic():
        owner = np.zeros(len(steps), dtype=np.int64)
        CurveTile.insert_rows(list(tile_rows([(run.pk, key)], owner, seq, steps, values)))
        SeriesChunk.objects.bulk_create(pack(run.pk, key, steps, values), batch_size=200)


def measure(client, url, repeat, expect):
    """(query count, [ms per request]) for GET url, after a warm-up."""
    from django.db import connection

    for _ in range(3):
        assert client.get(url).status_code == 200
    # Counted with an execute wrapper: CaptureQueriesContext loses queries because each
    # request clears the connection's query log when it starts.
    queries = []
    with connection.execute_wrapper(
        lambda execute, sql, *rest: queries.append(sql) or execute(sql, *rest)
    ):
        response = client.get(url)
    assert response.status_code == 200 and expect in response.text
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    return len(queries), timings


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="points per run, large case")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    scratch = django_in_scratch_dir("experiment-page")
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    lead = User.objects.create_user("lead")
    lead.groups.add(Group.objects.get(name="Lead"))
    client = Client(SERVER_NAME="localhost")
    client.force_login(lead)

    print(f"scratch database in {scratch}; {machine()}")
    experiments = []
    for key, points in (("EXP-1", 1_000), ("EXP-2", args.points)):
        started = time.perf_counter()
        experiments.append((points, build(key, runs=args.runs, points=points, user=lead)))
        print(f"built {args.runs} runs x {points:,} points (points, summaries, tiles) in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip

    # SQLite plans without statistics until ANALYZE (PostgreSQL's autovacuum gathers them).
    for label in ("before ANALYZE", "after ANALYZE"):
        if label == "after ANALYZE":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        rows = []
        for points, experiment in experiments:
            curves = reverse("experiments:experiment_curves", args=[experiment.pk])
            page = measure(client, experiment.get_absolute_url(), args.repeat,
                           "Baseline versus candidate")  # fmt: skip
            chart = measure(client, f"{curves}?metric=loss&width={WIDTH}", args.repeat, '"runs"')
            runs = list(experiment.runs.order_by("pk").values_list("name", "pk"))
            reference = dict(runs)["baseline-s0"]
            others = [pk for _, pk in runs if pk != reference][:4]
            drift_url = (f"{reverse('experiments:experiment_drift', args=[experiment.pk])}"
                         f"?reference={reference}&{urlencode({'runs': others}, doseq=True)}"
                         "&rel_tol=1e-3")  # fmt: skip
            drift = measure(client, drift_url, min(args.repeat, 10), "first-divergent")
            rows.append((points, page, chart, drift))
        report(label, rows, args)


def report(label, rows, args):
    print(f"\n{connection_vendor()}, {label}; chart data at {WIDTH} px")
    print(f"{'points/run':>12} {'total points':>13} | {'page q':>6} {'p50 ms':>7} {'p95 ms':>7} | "
          f"{'chart q':>7} {'p50 ms':>7} {'p95 ms':>7}")  # fmt: skip
    for points, (page_queries, page), (chart_queries, chart), _ in rows:
        print(f"{points:>12,} {points * args.runs:>13,} | {page_queries:>6} "
              f"{percentile(page, 50):>7.1f} {percentile(page, 95):>7.1f} | {chart_queries:>7} "
              f"{percentile(chart, 50):>7.1f} {percentile(chart, 95):>7.1f}")  # fmt: skip
    compared = min(args.runs - 1, 4)
    print(f"drift comparison, 1 reference against {compared} run(s), points read from chunks")
    print(f"{'points/run':>12} | {'queries':>7} {'p50 ms':>7} {'p95 ms':>7}")
    for points, _, _, (queries, times) in rows:
        print(f"{points:>12,} | {queries:>7} {percentile(times, 50):>7.1f} "
              f"{percentile(times, 95):>7.1f}")  # fmt: skip
    small, large = rows
    same = all(small[i][0] == large[i][0] for i in (1, 2, 3))
    slowest = max(percentile(large[i][1], 95) for i in (1, 2, 3))
    print(f"query counts (page, chart, drift): {'same' if same else 'DIFFERENT'} at "
          f"1k and {args.points:,} points per run; slowest p95 {slowest:.0f} ms "
          f"{'meets' if slowest < 300 else 'MISSES'} the 300 ms target")  # fmt: skip


def connection_vendor():
    from django.db import connection

    return connection.vendor


if __name__ == "__main__":
    main()
