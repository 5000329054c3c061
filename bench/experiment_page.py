"""Experiment page render time and query count, with 1,000 and 100,000 points per run.

Two experiments of 20 runs each (10 baseline, 10 candidate seeds) on a fresh SQLite database:
one with 1,000 loss points per run, one with 100,000 (2 million points). Points go in through
Run.log_points, the path the API takes (bulk inserts plus per-series summaries). The page is
rendered server-side through Django's test client, logged in as a Lead; each page is
rendered a few times to warm up, then timed. The target: under 300 ms, and a query count
that does not grow with the number of points.

    .venv/bin/python bench/experiment_page.py [--points 100000] [--runs 20] [--repeat 20]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import django_in_scratch_dir, percentile  # noqa: E402

BATCH = 20_000


def build(key, *, runs, points, user):
    import numpy as np

    from experiments.models import Criterion, Experiment, Run
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
    steps = np.arange(points)
    for index in range(runs):
        variant = "baseline" if index % 2 == 0 else "candidate"
        run = Run.objects.create(experiment=experiment, name=f"{variant}-s{index // 2}",
                                 variant=variant, seed=index // 2)  # fmt: skip
        loss = (2.4 * np.exp(-steps / (points / 4)) + 0.6 + rng.normal(0, 0.02, points)).tolist()
        for start in range(0, points, BATCH):
            batch = [
                {"key": "loss", "step": step, "value": loss[step]}
                for step in range(start, min(start + BATCH, points))
            ]
            if start == 0:
                batch += [
                    {"key": "accuracy", "step": 0, "bucket": bucket, "value": 0.8 + offset}
                    for bucket, offset in (("short", 0.02), ("long", -0.05))
                ]
            run.log_points(batch, idempotency_key=f"bench-{start}")
        accuracy = 0.80 + rng.normal(0, 0.005) - (0.01 if variant == "candidate" else 0)
        latency = 100 + rng.normal(0, 3) - (20 if variant == "candidate" else 0)
        run.finish(summary={"accuracy": accuracy, "latency_ms": latency})
    experiment.evaluate()
    return experiment


def measure(client, experiment, repeat):
    from django.db import connection

    url = experiment.get_absolute_url()
    for _ in range(3):
        assert client.get(url).status_code == 200
    # Counted with an execute wrapper: CaptureQueriesContext loses queries because each
    # request clears the connection's query log when it starts.
    queries = []
    with connection.execute_wrapper(
        lambda execute, sql, *rest: queries.append(sql) or execute(sql, *rest)
    ):
        response = client.get(url)
    assert response.status_code == 200 and "Baseline versus candidate" in response.text
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    return len(queries), timings


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000, help="points per run, large case")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    scratch = django_in_scratch_dir("experiment-page")
    from django.contrib.auth.models import Group, User
    from django.test import Client

    lead = User.objects.create_user("lead")
    lead.groups.add(Group.objects.get(name="Lead"))
    client = Client(SERVER_NAME="localhost")
    client.force_login(lead)

    from django.db import connection

    print(f"scratch database in {scratch}")
    experiments = []
    for key, points in (("EXP-1", 1_000), ("EXP-2", args.points)):
        started = time.perf_counter()
        experiments.append((points, build(key, runs=args.runs, points=points, user=lead)))
        print(
            f"loaded {args.runs} runs x {points:,} points in {time.perf_counter() - started:.1f} s"
        )

    # SQLite plans without statistics until ANALYZE (PostgreSQL's autovacuum gathers them);
    # both are shown because the series() query's plan depends on them.
    for label in ("before ANALYZE", "after ANALYZE"):
        if label == "after ANALYZE":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        rows = [
            (points, *measure(client, experiment, args.repeat))
            for points, experiment in experiments
        ]
        report(label, rows, args)


def report(label, rows, args):
    print(f"\n{connection_vendor()}, {label}")
    print(f"{'points/run':>12} {'total points':>13} {'queries':>8} {'p50 ms':>8} {'p95 ms':>8} "
          f"{'mean ms':>8}")  # fmt: skip
    for points, queries, timings in rows:
        print(f"{points:>12,} {points * args.runs:>13,} {queries:>8} "
              f"{percentile(timings, 50):>8.1f} {percentile(timings, 95):>8.1f} "
              f"{statistics.mean(timings):>8.1f}")  # fmt: skip
    small, large = rows
    same = "same" if small[1] == large[1] else "DIFFERENT"
    verdict = "meets" if percentile(large[2], 95) < 300 else "MISSES"
    print(f"query count: {same} at 1k and {args.points:,} points per run; "
          f"p95 {verdict} the 300 ms target")  # fmt: skip


def connection_vendor():
    from django.db import connection

    return connection.vendor


if __name__ == "__main__":
    main()
