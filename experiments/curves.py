"""Metric curves for the experiment page's charts: each run's series at the chart's width.

A constant number of queries however many points were logged: the runs, their per-series
counts, then one query for the tiles of every run with a long history (CurveTile, kept at
ingest) and one for the packed points of the runs with short ones (SeriesChunk). Each run's
candidate points (the first, lowest, highest and last finite value of each tile, or its points) are
downsampled by tsdownsample's MinMaxLTTB to `width` points, and its lowest and highest
points are always kept. NaN and infinities become null values, which the chart draws as gaps.
"""

import math

import numpy as np
from django.urls import reverse

from .arrays import fetch_array, json_floats, kept_indices
from .models import CurveTile, MetricSummary, SeriesChunk
from .models.curves import TILE_SIZES

DEFAULT_WIDTH, MIN_WIDTH, MAX_WIDTH = 800, 100, 4000
# The mean +/- std band is drawn on a coarser grid than the lines: one bin per BAND_PIXELS.
BAND_PIXELS = 4

TILE_COLUMNS = (
    "run_id", "first_step", "first_value", "min_step", "min_value", "max_step", "max_value",
    "last_step", "last_value", "gap_step", "step_min", "step_max", "finite", "total",
)  # fmt: skip


def parse_width(raw):
    """The width asked for, clamped to [MIN_WIDTH, MAX_WIDTH]; ValueError if not a number."""
    if raw in (None, ""):
        return DEFAULT_WIDTH
    width = int(raw)
    return min(max(width, MIN_WIDTH), MAX_WIDTH)


def parse_window(first, last):
    """(first, last) of a zoomed window, or None for the whole run; ValueError if not valid."""
    if first in (None, "") and last in (None, ""):
        return None
    try:
        window = (int(first), int(last))
    except (TypeError, ValueError):
        raise ValueError("from and to must both be whole step numbers") from None
    if window[0] > window[1]:
        raise ValueError("from must not be after to")
    return window


def level_for(count, width):
    """The coarsest tile level with at least width / 2 tiles, or None to read the points.

    Each tile gives up to four points, so the downsampler still chooses from at least twice
    as many points as it keeps; a series too short for that is read point by point.
    """
    chosen = None
    for level, size in enumerate(TILE_SIZES):
        if math.ceil(count / size) < width / 2:
            break
        chosen = level
    return chosen


def page_chart(experiment, metric):
    """What the page needs to draw the curves of `metric`: the data address, and a per-run
    table for readers without JavaScript. None when no run logged the metric."""
    rows = list(
        MetricSummary.objects.filter(run__experiment=experiment, key=metric, bucket="", count__gt=0)
        .select_related("run")
        .order_by(*(f"run__{field}" for field in ("variant", "seed", "pk")))
    )
    if not rows:
        return None
    url = reverse("experiments:experiment_curves", args=[experiment.pk])
    return {
        "metric": metric,
        "url": url,
        "rows": rows,
        # Changes whenever a point arrives: the page fetches the curves again only then.
        "version": sum(row.count for row in rows),
    }


def curve_data(experiment, metric, width=DEFAULT_WIDTH, window=None):
    """{metric, width, window, runs: [{name, variant, seed, platform, points, level, steps,
    values}], bands}.

    None when no run logged the metric. `window` (first, last step) narrows the curves to a zoomed
    window, read at the resolution that window needs. `bands`: per variant with two runs or
    more, the mean and mean +/- std across its runs on a common grid of steps.
    """
    runs = {run.pk: run for run in experiment.runs.all()}
    summaries = MetricSummary.objects.filter(run__in=list(runs), key=metric, bucket="", count__gt=0)
    counts, totals = {}, {}
    for run_id, count, first, last in summaries.values_list(
        "run_id", "count", "first_step", "last_step"
    ):
        counts[run_id] = totals[run_id] = count
        if window is not None:
            # The points inside the window, guessed as if steps were evenly spread.
            inside = min(window[1], last) - max(window[0], first) + 1
            counts[run_id] = math.ceil(count * min(max(inside, 0) / (last - first + 1), 1))
    if not counts:
        return None
    levels = {run_id: level_for(count, width) for run_id, count in counts.items() if count}
    shapes = {}
    tiled = {run_id: level for run_id, level in levels.items() if level is not None}
    if tiled:
        tiles = CurveTile.objects.for_chart(tiled, metric, window).values_list(*TILE_COLUMNS)
        for run_id, rows in _by_run(fetch_array(tiles)):
            shapes[run_id] = _Shape.from_tiles(rows)
    short = [run_id for run_id, level in levels.items() if level is None]
    if short:
        for run_id, points in SeriesChunk.points(short, metric, steps=window).items():
            shapes[run_id] = _Shape.from_points(points.step, points.value)
    series = []
    for run_id, run in runs.items():
        if run_id not in shapes:
            continue
        steps, values = shapes[run_id].downsampled(width)
        series.append(
            {
                "name": run.name, "variant": run.variant, "seed": run.seed,
                "platform": run.platform,
                "points": totals[run_id], "level": levels.get(run_id),
                "steps": steps, "values": values,
            }
        )  # fmt: skip
    return {
        "metric": metric,
        "width": width,
        "window": list(window) if window is not None else None,
        "runs": series,
        "bands": _bands(runs, shapes, width),
    }


def _by_run(rows):
    """(run_id, its rows) for rows ordered by run id in their first column."""
    if not len(rows):
        return
    run_ids, starts = np.unique(rows[:, 0], return_index=True)
    for run_id, start, end in zip(run_ids, starts, [*starts[1:], len(rows)], strict=True):
        yield int(run_id), rows[start:end]


class _Shape:
    """One run's candidate points, gaps and per-tile means (float arrays)."""

    def __init__(self, steps, values, gaps, mean_steps, means, weights):
        self.steps, self.values, self.gaps = steps, values, gaps
        self.mean_steps, self.means, self.weights = mean_steps, means, weights

    @classmethod
    def from_tiles(cls, rows):
        """From TILE_COLUMNS rows: each tile's first, lowest, highest and last finite point."""
        steps = rows[:, [1, 3, 5, 7]].ravel()
        values = rows[:, [2, 4, 6, 8]].ravel()
        present = ~np.isnan(steps)
        gaps = rows[:, 9][~np.isnan(rows[:, 9])]
        finite, filled = rows[:, 12], rows[:, 12] > 0
        centres = (rows[:, 10] + rows[:, 11]) / 2
        means = rows[:, 13] / np.maximum(finite, 1)
        return cls(steps[present], values[present], gaps, centres[filled], means[filled],
                   finite[filled])  # fmt: skip

    @classmethod
    def from_points(cls, steps, values):
        finite = np.isfinite(values)
        return cls(steps[finite], values[finite], steps[~finite], steps[finite], values[finite],
                   np.ones(finite.sum()))  # fmt: skip

    def downsampled(self, width):
        """(steps, values) for JSON: at most about `width` points plus gaps (None values)."""
        steps, values = self.steps.astype(np.int64), self.values
        order = np.argsort(steps, kind="stable")
        steps, values = steps[order], values[order]
        if len(steps) > width:
            keep = kept_indices(steps, values, width)
            steps, values = steps[keep], values[keep]
        gaps = _thin(self.gaps.astype(np.int64), width)
        if len(gaps):
            steps = np.concatenate([steps, gaps])
            values = np.concatenate([values, np.full(len(gaps), np.nan)])
            order = np.argsort(steps, kind="stable")
            steps, values = steps[order], values[order]
        return steps.tolist(), json_floats(values)

    def binned_means(self, edges):
        """The run's mean in each bin between `edges`, interpolated over empty bins inside the
        run's range of steps; NaN outside it."""
        bins = len(edges) - 1
        if not len(self.means):
            return np.full(bins, np.nan)
        steps, weights = self.mean_steps, self.weights
        slot = np.clip(np.searchsorted(edges, steps, side="right") - 1, 0, bins - 1)
        sums = np.bincount(slot, weights=self.means * weights, minlength=bins)
        counts = np.bincount(slot, weights=weights, minlength=bins)
        centres = (edges[:-1] + edges[1:]) / 2
        filled = counts > 0
        means = np.interp(centres, centres[filled], sums[filled] / counts[filled])
        means[(centres < steps.min()) | (centres > steps.max())] = np.nan
        means[filled] = sums[filled] / counts[filled]
        return means


def _thin(gaps, width):
    """At most one gap per pixel column: a run that is NaN throughout stays cheap to draw."""
    if len(gaps) <= width:
        return gaps
    low, high = gaps.min(), gaps.max()
    column = ((gaps - low) * (width - 1) // max(high - low, 1)).astype(np.int64)
    _, first = np.unique(column, return_index=True)
    return gaps[first]


def _bands(runs, shapes, width):
    """Per variant with two or more runs (a seed reported twice counts once, the latest)."""
    latest = {}
    for run in sorted(runs.values(), key=lambda run: (run.started_at, run.pk)):
        if run.pk in shapes and len(shapes[run.pk].means):
            latest[(run.variant, run.seed if run.seed is not None else f"run {run.pk}")] = run
    by_variant = {}
    for (variant, _), run in sorted(latest.items(), key=lambda item: str(item[0])):
        by_variant.setdefault(variant, []).append(shapes[run.pk])
    bands = []
    for variant, members in by_variant.items():
        if len(members) < 2:
            continue
        low = min(shape.mean_steps.min() for shape in members)
        high = max(shape.mean_steps.max() for shape in members)
        edges = np.linspace(low, high if high > low else low + 1, max(width // BAND_PIXELS, 2) + 1)
        matrix = np.vstack([shape.binned_means(edges) for shape in members])
        present = np.sum(~np.isnan(matrix), axis=0)
        mean = np.full(matrix.shape[1], np.nan)
        spread = np.full(matrix.shape[1], np.nan)
        mean[present > 0] = np.nanmean(matrix[:, present > 0], axis=0)
        spread[present > 1] = np.nanstd(matrix[:, present > 1], axis=0, ddof=1)
        bands.append(
            {
                "variant": variant,
                "runs": len(members),
                "steps": ((edges[:-1] + edges[1:]) / 2).round(1).tolist(),
                "mean": json_floats(mean),
                "low": json_floats(mean - spread),
                "high": json_floats(mean + spread),
            }
        )
    return bands
