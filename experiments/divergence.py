"""How far one series strays from a reference series, step by step, in numpy: the arithmetic
under the drift comparison (experiments/drift.py) and the reference criteria
(Criterion.check_kind matches_reference). Imports no model, so the models modules can use it.

A step is within tolerance when |candidate - reference| <= max(abs_tol, rel_tol *
|reference|), math.isclose's rule with the reference as the scale, so an absolute tolerance is
the floor near zero; NaN or an infinity where the other run has something else is a
divergence.
"""

import math
from dataclasses import dataclass

import numpy as np

from .arrays import json_floats, kept_indices

DEFAULT_WIDTH = 800


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

    def exceeded(self, reference, absolute, scale=None):
        """Per step, whether |difference| is beyond the tolerance (all False without one).

        `scale` is |reference| when the caller has it already (a pass less over a million)."""
        if not self.given:
            return np.zeros(len(absolute), dtype=bool)
        bound = None
        if self.relative is not None:
            bound = self.relative * (np.abs(reference) if scale is None else scale)
        if self.absolute is not None:
            bound = self.absolute if bound is None else np.maximum(bound, self.absolute)
        return absolute > bound


def compare(reference, candidate, tolerance, *, last=None, width=DEFAULT_WIDTH):
    """What one candidate series does against the reference series ((steps, values) each).

    `last` keeps only the last N steps both logged. Returns a dict: compared steps, steps
    only one of them logged, first step beyond tolerance (None if none), the largest absolute
    and relative differences with their steps, and the differences over steps downsampled to
    about `width` points for the chart (the first divergent step always kept).
    """
    ref_steps, ref_values = reference
    cand_steps, cand_values = candidate
    if np.array_equal(ref_steps, cand_steps):
        # Runs of one setup log the same steps: intersecting a million of them (a sort) would
        # cost more than the whole comparison.
        steps, ref, cand = ref_steps, ref_values, cand_values
    else:
        steps, ref_at, cand_at = np.intersect1d(
            ref_steps, cand_steps, assume_unique=True, return_indices=True
        )
        ref, cand = ref_values[ref_at], cand_values[cand_at]
    if last is not None:
        steps, ref, cand = steps[-last:], ref[-last:], cand[-last:]
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
    # Each line below is a pass over every step: at a million steps a run, passes are the cost.
    with np.errstate(invalid="ignore", divide="ignore"):
        absolute = np.subtract(cand, ref)
        np.abs(absolute, out=absolute)
        scale = np.abs(ref)
        relative = absolute / scale
    # Equal values (infinities too) and NaN against NaN are no difference; so is 0/0 (equal
    # values), while x/0 is an infinite relative one.
    same = ref == cand
    nan_ref = np.isnan(ref)
    if nan_ref.any():
        same |= nan_ref & np.isnan(cand)
    absolute[same] = 0.0
    relative[same] = 0.0
    # What is still not finite is a NaN or an infinity against something else.
    broken = ~np.isfinite(absolute)
    beyond = tolerance.exceeded(ref, absolute, scale) | broken
    result["divergent_steps"] = int(beyond.sum())
    if tolerance.given:
        result["within"] = not beyond.any()
    first = int(np.argmax(beyond)) if beyond.any() else None
    if first is not None:
        result["first_divergent_step"] = int(steps[first])
    finites = {"abs": ~broken, "rel": np.isfinite(relative)}
    for name, values in (("abs", absolute), ("rel", relative)):
        finite = finites[name]
        if finite.all():
            at = int(np.argmax(values))
        elif finite.any():
            at = int(np.argmax(np.where(finite, values, -1.0)))
        else:
            continue
        result[f"max_{name}"] = {"value": float(values[at]), "step": int(steps[at])}
    result["chart"] = _chart(steps, absolute, relative, first, width, finites)
    return result


def _chart(steps, absolute, relative, first, width, finites):
    """The differences at about `width` steps: the union of what keeps each line's shape."""
    keep = []
    for name, values in (("abs", absolute), ("rel", relative)):
        finite = finites[name]
        if finite.all():  # the usual case: no copies of a million steps to make
            keep.append(kept_indices(steps, values, width))
            continue
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
        "abs": json_floats(absolute[keep]),
        "rel": json_floats(relative[keep]),
    }
