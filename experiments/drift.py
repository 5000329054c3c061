"""Hardware and precision drift: how far runs on other accelerators or dtypes stray from a
reference run, metric by metric and step by step.

Two runs are compared at the steps both logged (the later value of a step logged twice), in
numpy over the whole history (experiments/divergence.py), exactly: every point, read from the
packed chunks they are stored in (SeriesChunk, experiments/models/chunks.py), one query a
metric for any number of runs and points. The chart of the differences is downsampled as the curves
are (experiments/arrays.py).
"""

from .divergence import DEFAULT_WIDTH, Tolerance, compare
from .models import MetricSummary, SeriesChunk
from .models.chunks import NO_SERIES

__all__ = ["DEFAULT_WIDTH", "Tolerance", "compare"]

# Params that name the platform or the seed: runs differing only in these are the same setup.
PLATFORM_PARAMS = {"seed", "dtype", "precision", "device", "accelerator", "gpu", "platform"}


def drift(reference, runs, metrics, tolerance, *, last=None, width=DEFAULT_WIDTH):
    """[{metric, run, ...compare()}] for each metric and run, runs in the order given.

    A metric the reference did not log gives no row; a run that did not log it gives a row
    with no compared steps.
    """
    rows = []
    for metric in metrics:
        logged = SeriesChunk.series([reference.pk, *(run.pk for run in runs)], metric)
        if reference.pk not in logged:
            continue
        for run in runs:
            compared = compare(
                logged[reference.pk],
                logged.get(run.pk, NO_SERIES),
                tolerance,
                last=last,
                width=width,
            )
            rows.append({"metric": metric, "run": run, **compared})
    return rows


def shared_metrics(reference, runs):
    """Metrics the reference logged (un-bucketed) that at least one of `runs` logged too."""
    logged = {}
    for run_id, key in MetricSummary.objects.filter(
        run__in=[reference, *runs], bucket="", count__gt=0
    ).values_list("run_id", "key"):
        logged.setdefault(key, set()).add(run_id)
    return sorted(
        key for key, owners in logged.items() if reference.pk in owners and len(owners) > 1
    )


def same_setup(run, other):
    """Whether two runs have the same params apart from seed and platform-naming ones."""

    def setup(params):
        return {key: value for key, value in params.items() if key.lower() not in PLATFORM_PARAMS}

    return setup(run.params) == setup(other.params)


def candidates(reference, runs):
    """[(run, same_setup, other_platform)] for every run but the reference: runs with the same
    params on another platform first (what a drift comparison is for), then the rest."""
    rows = [
        (run, same_setup(reference, run), run.platform != reference.platform)
        for run in runs
        if run.pk != reference.pk
    ]
    return sorted(rows, key=lambda row: (not (row[1] and row[2]), not row[1], row[0].pk))


def platforms(runs):
    """The distinct platforms of `runs`, in the order they first appear ("" not recorded)."""
    return list(dict.fromkeys(run.platform for run in runs))


class DriftRequest(ValueError):
    """A drift comparison asked for with bad parameters; the message says which."""


def report(experiment, *, reference, runs, metrics=None, tolerance=None, last=None,
           width=DEFAULT_WIDTH):  # fmt: skip
    """The drift comparison as JSON-ready data, for the page and the API alike.

    `reference` and `runs` are run ids (as given by a person or a script); DriftRequest when
    one is not a run of the experiment, the reference is among the runs, or no metric is
    shared. Metrics default to every metric the reference shares with the runs.
    """
    tolerance = tolerance or Tolerance()
    by_id = {run.pk: run for run in experiment.runs.filter(pk__in=[reference, *runs])}
    unknown = [str(run_id) for run_id in [reference, *runs] if run_id not in by_id]
    if unknown:
        raise DriftRequest(f"no run {', '.join(unknown)} in {experiment.key}")
    if reference in runs:
        raise DriftRequest("the reference run cannot also be compared with itself")
    if not runs:
        raise DriftRequest("name at least one run to compare with the reference")
    if last is not None and last < 1:
        raise DriftRequest("last must be 1 or more steps")
    reference_run, compared = by_id[reference], [by_id[run_id] for run_id in runs]
    shared = shared_metrics(reference_run, compared)
    if metrics:
        missing = [metric for metric in metrics if metric not in shared]
        if missing:
            raise DriftRequest(
                f"{', '.join(missing)}: not logged by the reference and a compared run"
            )
    else:
        metrics = shared
    rows = drift(reference_run, compared, metrics, tolerance, last=last, width=width)
    return {
        "experiment": experiment.key,
        "reference": run_json(reference_run),
        "runs": [run_json(run) for run in compared],
        "tolerance": {"abs": tolerance.absolute, "rel": tolerance.relative},
        "last": last,
        "metrics": list(metrics),
        "comparisons": [{**row, "run": row["run"].pk} for row in rows],
    }


def run_json(run):
    return {"id": run.pk, "name": run.name, "variant": run.variant, "seed": run.seed,
            "platform": run.platform, "platform_detail": run.platform_detail}  # fmt: skip
