"""Read helpers over what training jobs reported, for the experiment pages and criteria.

Each helper runs a fixed number of queries however many points were logged: they read the
per-series summaries kept at ingest (MetricSummary), and series() fetches every k-th point
through an index rather than the whole history.
"""

import math

from .models import MetricPoint, MetricSummary, Run


def _runs(experiment, stage=None):
    runs = Run.objects.for_experiment(experiment)
    if stage:
        runs = runs.counting_for(stage).order_by(*Run._meta.ordering)
    return list(runs)


def metric_names(experiment):
    """Sorted names of every metric logged or summarised by the experiment's runs."""
    names = set(
        MetricSummary.objects.filter(run__experiment=experiment)
        .values_list("key", flat=True)
        .distinct()
    )
    for run in _runs(experiment):
        names.update(run.summary)
    return sorted(names)


def counted_runs(experiment, *, stage=None, finished_only=False):
    """(counted, left_out): the runs whose values count, and [(run, why not)] for the others.

    A run reported again with the same variant and seed replaces the earlier one: the
    latest counts, so re-running a seed cannot double its weight. With `finished_only`
    (the evidence a gate is decided on) running, failed and killed runs are left out.
    """
    runs = _runs(experiment, stage)
    left_out = []
    if finished_only:
        left_out += [(run, f"{run.status}, not finished") for run in runs if not _finished(run)]
        runs = [run for run in runs if _finished(run)]
    latest = {}
    for run in sorted(runs, key=lambda run: (run.started_at, run.pk)):
        if run.seed is None:
            continue
        earlier = latest.get((run.variant, run.seed))
        if earlier is not None:
            left_out.append((earlier, f"replaced by {run.name} (same variant and seed)"))
        latest[(run.variant, run.seed)] = run
    replaced = {run.pk for run, reason in left_out if reason.startswith("replaced")}
    return [run for run in runs if run.pk not in replaced], left_out


def _finished(run):
    return run.status == Run.Status.FINISHED


def run_values(experiment, metric, *, stage=None, finished_only=False, runs=None):
    """[(run, value)], one per counted run that has the metric (see counted_runs).

    With `stage`: the runs counting for that stage's gate. The value is the run's summary
    metric when it finished with one, else the last value it logged (by step) outside any
    bucket. Runs without the metric are left out. `runs` skips counting them again.
    """
    if runs is None:
        runs, _ = counted_runs(experiment, stage=stage, finished_only=finished_only)
    last_logged = dict(
        MetricSummary.objects.filter(run__experiment=experiment, key=metric, bucket="").values_list(
            "run_id", "last_value"
        )
    )
    values = []
    for run in runs:
        value = run.summary_value(metric) if run.is_finished else None
        if value is None:
            value = last_logged.get(run.pk)
        if value is not None:
            values.append((run, value))
    return values


def bucket_values(experiment, metric):
    """[(run, bucket, value)]: each run's last value of the metric in each bucket label."""
    runs = {run.pk: run for run in _runs(experiment)}
    rows = (
        MetricSummary.objects.filter(run__experiment=experiment, key=metric)
        .exclude(bucket="")
        .order_by("run_id", "bucket")
        .values_list("run_id", "bucket", "last_value")
    )
    return [(runs[run_id], bucket, value) for run_id, bucket, value in rows if run_id in runs]


def sample_values(runs, metric):
    """({run_id: [values]}, source) for a percentile over samples rather than run summaries.

    Bucketed evaluations give each run's last value per bucket ("per-bucket"); a metric
    logged as many points outside buckets gives every logged value ("per-sample"). None when
    the runs logged neither, and a percentile can only be taken across the runs' summaries.
    """
    run_ids = [run.pk for run in runs]
    summaries = MetricSummary.objects.filter(run_id__in=run_ids, key=metric)
    buckets = {}
    for run_id, value in summaries.exclude(bucket="").values_list("run_id", "last_value"):
        buckets.setdefault(run_id, []).append(value)
    if buckets:
        return buckets, "per-bucket"
    if summaries.filter(bucket="", count__gt=1).exists():
        samples = {}
        points = MetricPoint.objects.filter(run_id__in=run_ids, key=metric, bucket="")
        for run_id, value in points.values_list("run_id", "value").iterator():
            samples.setdefault(run_id, []).append(value)
        return samples, "per-sample"
    return None


def non_finite_metrics(experiment):
    """Names of metrics with a NaN or infinite value, logged or in a run's summary."""
    names = set(
        MetricSummary.objects.filter(run__experiment=experiment, has_non_finite=True)
        .values_list("key", flat=True)
        .distinct()
    )
    for run in _runs(experiment):
        for metric in run.summary:
            value = run.summary_value(metric)
            if value is not None and not math.isfinite(value):
                names.add(metric)
    return names


def series(run, metric, max_points=500):
    """[(step, value)] of a run's metric ordered by step, at most about max_points of them.

    Long histories are thinned on the server: every k-th point in arrival order (taken
    through the (run, key, bucket, seq) index), plus the last one. Two queries at most.
    """
    summary = MetricSummary.objects.filter(run=run, key=metric, bucket="").first()
    if summary is None or summary.count == 0:
        return []
    points = MetricPoint.objects.filter(run=run, key=metric, bucket="")
    if summary.count > max_points:
        stride = math.ceil(summary.count / max(max_points - 1, 1))
        wanted = list(range(0, summary.count, stride))
        if wanted[-1] != summary.count - 1:
            wanted.append(summary.count - 1)
        points = points.filter(seq__in=wanted)
    return list(points.order_by("step", "seq").values_list("step", "value"))
