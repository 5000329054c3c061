"""Chart data for the experiment pages.

The calibration plot is server-drawn SVG (geometry here, templates/experiments/calibration.html);
the quality-versus-cost plot is data for uPlot (static/experiments/charts.js), as are the metric
curves (experiments/curves.py).
"""

import json
import math

from . import stats

# Name fragments that suggest which metric is quality and which is cost, for the scatter's
# default axes; the pages let the reader pick others.
QUALITY_HINTS = ("accuracy", "acc", "f1", "bleu", "score", "quality", "reward")
COST_HINTS = ("latency", "gpu_hours", "gpu-hours", "cost", "seconds", "time", "memory")

PALETTE = ("#2f5bea", "#c62828", "#1a7f37", "#b35c00", "#8e44ad", "#00838f", "#6d4c41")
WIDTH, HEIGHT, MARGIN = 640, 240, 44


def _bounds(values):
    low, high = min(values), max(values)
    if low == high:
        low, high = low - 1, high + 1
    return low, high


def _ticks(low, high, count=4):
    return [low + (high - low) * i / count for i in range(count + 1)]


class _Scale:
    def __init__(self, xs, ys, width, height):
        self.x_low, self.x_high = _bounds(xs)
        self.y_low, self.y_high = _bounds(ys)
        self.width, self.height = width, height

    def x(self, value):
        span = self.x_high - self.x_low
        return MARGIN + (value - self.x_low) / span * (self.width - 2 * MARGIN)

    def y(self, value):
        span = self.y_high - self.y_low
        return (
            self.height
            - MARGIN
            + MARGIN / 2
            - (value - self.y_low) / span * (self.height - 1.5 * MARGIN)
        )

    def axes(self):
        return {
            "x_ticks": [(self.x(v), _label(v)) for v in _ticks(self.x_low, self.x_high)],
            "y_ticks": [(self.y(v), _label(v)) for v in _ticks(self.y_low, self.y_high)],
            "left": MARGIN,
            "right": self.width - MARGIN,
            "top": MARGIN / 2,
            "bottom": self.height - MARGIN + MARGIN / 2,
        }


def _label(value):
    return f"{value:.3g}"


def pick_metric(wanted, metrics, hints):
    """The metric asked for if it exists, else the first matching a hint, else the first."""
    if wanted in metrics:
        return wanted
    for hint in hints:
        for metric in metrics:
            if hint in metric.lower():
                return metric
    return metrics[0] if metrics else None


def quality_cost_scatter(rows, *, quality, cost, higher_is_better=True, dim_dominated=False):
    """The quality-versus-cost plot of `rows` (label, group, quality value, cost value).

    Rows with a non-finite value are left out; the rest are marked on or off the Pareto front
    (stats.pareto_front: quality higher, or lower when not higher_is_better; cost lower).
    With `dim_dominated` the script draws the points off the front faint. None when no row
    is left.
    """
    rows = [row for row in rows if math.isfinite(row[2]) and math.isfinite(row[3])]
    front = stats.pareto_front(
        [(quality_value, cost_value) for _, _, quality_value, cost_value in rows],
        maximise_quality=higher_is_better,
    )
    return scatter_data(
        [
            (label, cost_value, quality_value, group)
            for label, group, quality_value, cost_value in rows
        ],
        front,
        x_label=cost,
        y_label=quality,
        higher_is_better=higher_is_better,
        dim_dominated=dim_dominated,
    )


def scatter_data(points, front, *, x_label, y_label, higher_is_better=True, dim_dominated=False):
    """The quality-versus-cost plot for static/experiments/charts.js, JSON in a data attribute.

    `points` are (label, x, y, group); the indices in `front` are the Pareto front. Groups
    (variants, or experiments) keep their palette colour by name order. None when no point is
    finite.
    """
    points = [p for p in points if math.isfinite(p[1]) and math.isfinite(p[2])]
    if not points:
        return None
    front = set(front)
    groups = sorted({p[3] for p in points})
    colors = {group: PALETTE[i % len(PALETTE)] for i, group in enumerate(groups)}
    data = {
        "x_label": x_label,
        "y_label": y_label,
        "y_better": "higher" if higher_is_better else "lower",
        "dim_dominated": dim_dominated,
        "groups": [{"name": group, "color": colors[group]} for group in groups],
        "points": [
            {"label": label, "x": x, "y": y, "group": group, "front": index in front}
            for index, (label, x, y, group) in enumerate(points)
        ],
    }
    return {"json": json.dumps(data), **data}


def calibration_chart(bins, *, size=260):
    """Observed rate against mean forecast per bin, with the diagonal of perfect calibration."""
    if not bins:
        return None
    scale = _Scale([0, 1], [0, 1], size, size)
    return {
        "width": size,
        "height": size,
        "diagonal": f"{scale.x(0):.1f},{scale.y(0):.1f} {scale.x(1):.1f},{scale.y(1):.1f}",
        "dots": [
            {
                "x": scale.x(b.mean_forecast),
                "y": scale.y(b.observed_rate),
                "r": 3 + min(b.count, 20) / 2,
                "title": f"{b.low:.0%}–{b.high:.0%}: said {b.mean_forecast:.0%}, "
                f"happened {b.observed_rate:.0%} (n = {b.count})",
            }
            for b in bins
        ],
        "line": " ".join(
            f"{scale.x(b.mean_forecast):.1f},{scale.y(b.observed_rate):.1f}" for b in bins
        ),
        **scale.axes(),
    }
