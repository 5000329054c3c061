"""Hardware and precision drift: how far runs on other accelerators or dtypes stray from a
reference run, metric by metric and step by step.

Two runs are compared at the steps both logged (the later value of a step logged twice), in
numpy over the whole history: a million points a run costs one query and a few vector
operations. A step is within tolerance when |candidate - reference| <= max(abs_tol,
rel_tol * |reference|), math.isclose's rule with the reference as the scale, so an absolute
tolerance is the floor near zero; NaN or an infinity where the other run has something else is
a divergence. The chart of the differences is downsampled as the curves are (curves.py).
"""

import math
from dataclasses import dataclass

import numpy as np

from .curves import _fetch, _json_floats, kept_indices
from .models import MetricPoint, MetricSummary

DEFAULT_WIDTH = 800
# Params that name the platform or the seed: runs differing only in these are the same setup.
PLATFORM_PARAMS = {"seed", "dtype", "precision", "device", "accelerator", "gpu", "platform"}


@dataclass(frozen=True)
class Tolerance:
    """Absolute and/or relative tolerance; None for one not given."""

    absolute: float | None = None
    relative: float | None = None

    @classmethod
    def parse(cls, absolute, relative):
        """From query or form text; ValueError (with the reason) for anything but >= 0 numbers."""
        values = []
        for name, raw in (("abs_tol", absolute), ("rel_tol", relative)):
            if raw in (None, ""):
                values.append(None)
                continue
            try:
                value = float(raw)
            except (TypeError, ValueError):
                raise ValueError(f"{name} must be a number, got {raw!r}") from None
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite number of 0 or more, got {raw!r}")
            values.append(value)
        return cls(*values)

    @property
    def given(self):
        return self.absolute is not None or self.relative is not None

    def __str__(self):
        parts = []
        if self.absolute is not None:
            parts.append(f"abs {self.absolute:g}")
        if self.relative is not None:
            parts.append(f"rel {self.relative:g}")
        return " or ".join(parts) or "no tolerance"

    def exceeded(self, reference, absolute):
        """Per step, whether |difference| is beyond the tolerance (all False without one)."""
        bound = np.zeros_like(absolute)
        if self.absolute is not None:
            bound = np.maximum(bound, self.absolute)
        if self.relative is not None:
            bound = np.maximum(bound, self.relative * np.abs(reference))
        if not self.given:
            return np.zeros(len(absolute), dtype=bool)
        return absolute > bound


def series(run_ids, metric):
    """{run_id: (steps, values)}: each run's un-bucketed points of `metric`, one value per step
    (the later of a step logged twice), steps ascending. One query for all the runs."""
    points = (
        MetricPoint.objects.filter(run_id__in=list(run_ids), key=metric, bucket="")
        .order_by("run_id", "seq")
        .values_list("run_id", "step", "value")
    )
    rows = _fetch(points)
    found = {}
    if not len(rows):
        return found
    run_column = rows[:, 0]
    for run_id in np.unique(run_column):
        mine = rows[run_column == run_id]
        steps, values = mine[:, 1].astype(np.int64), mine[:, 2]
        # Reversed, np.unique's first occurrence is the last point logged for each step.
        unique, first = np.unique(steps[::-1], return_index=True)
        found[int(run_id)] = (unique, values[::-1][first])
    return found


def compare(reference, candidate, tolerance, *, last=None, width=DEFAULT_WIDTH):
    """What one candidate series does against the reference series ((steps, values) each).

    `last` keeps only the last N steps both logged. Returns a dict: compared steps, steps
    only one of them logged, first step beyond tolerance (None if none), the largest absolute
    and relative differences with their steps, and the differences over steps downsampled to
    about `width` points for the chart (the first divergent step always kept).
    """
    ref_steps, ref_values = reference
    cand_steps, cand_values = candidate
    steps, ref_at, cand_at = np.intersect1d(
        ref_steps, cand_steps, assume_unique=True, return_indices=True
    )
    if last is not None:
        steps, ref_at, cand_at = steps[-last:], ref_at[-last:], cand_at[-last:]
    ref, cand = ref_values[ref_at], cand_values[cand_at]
    result = {
        "compared_steps": len(steps),
        "only_reference": len(ref_steps) - len(steps) if last is None else None,
        "only_run": len(cand_steps) - len(steps) if last is None else None,
        "first_step": int(steps[0]) if len(steps) else None,
        "last_step": int(steps[-1]) if len(steps) else None,
        "first_divergent_step": None,
        "divergent_steps": 0,
        "max_abs": None,
        "max_rel": None,
        "within": None,
        "chart": {"steps": [], "abs": [], "rel": []},
    }
    if not len(steps):
        return result
    with np.errstate(invalid="ignore", divide="ignore"):
        absolute = np.abs(cand - ref)
        relative = absolute / np.abs(ref)
    # 0/0 is no difference; x/0 an infinite relative one.
    relative[(absolute == 0)] = 0.0
    same = (ref == cand) | (np.isnan(ref) & np.isnan(cand))
    broken = ~np.isfinite(absolute) & ~same
    absolute[same] = 0.0
    relative[same] = 0.0
    beyond = tolerance.exceeded(ref, np.where(broken, 0.0, absolute)) | broken
    result["divergent_steps"] = int(beyond.sum())
    if tolerance.given:
        result["within"] = not beyond.any()
    first = int(np.argmax(beyond)) if beyond.any() else None
    if first is not None:
        result["first_divergent_step"] = int(steps[first])
    for name, values in (("max_abs", absolute), ("max_rel", relative)):
        finite = np.isfinite(values)
        if finite.any():
            at = int(np.argmax(np.where(finite, values, -1.0)))
            result[name] = {"value": float(values[at]), "step": int(steps[at])}
    result["chart"] = _chart(steps, absolute, relative, first, width)
    return result


def _chart(steps, absolute, relative, first, width):
    """The differences at about `width` steps: the union of what keeps each line's shape."""
    keep = []
    for values in (absolute, relative):
        finite = np.isfinite(values)
        positions = np.flatnonzero(finite)
        if len(positions):
            keep.append(positions[kept_indices(steps[positions], values[positions], width)])
        # Non-finite differences are gaps; at most a width's worth of them are kept.
        gaps = np.flatnonzero(~finite)
        keep.append(gaps[:: max(len(gaps) // width, 1)])
    if first is not None:
        keep.append(np.array([first]))
    keep = np.unique(np.concatenate(keep)) if keep else np.arange(0)
    return {
        "steps": steps[keep].tolist(),
        "abs": _json_floats(absolute[keep]),
        "rel": _json_floats(relative[keep]),
    }


def drift(reference, runs, metrics, tolerance, *, last=None, width=DEFAULT_WIDTH):
    """[{metric, run, ...compare()}] for each metric and run, runs in the order given.

    A metric the reference did not log gives no row; a run that did not log it gives a row
    with no compared steps.
    """
    rows = []
    for metric in metrics:
        logged = series([reference.pk, *(run.pk for run in runs)], metric)
        if reference.pk not in logged:
            continue
        empty = (np.arange(0, dtype=np.int64), np.arange(0, dtype=np.float64))
        for run in runs:
            compared = compare(
                logged[reference.pk], logged.get(run.pk, empty), tolerance, last=last, width=width
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
