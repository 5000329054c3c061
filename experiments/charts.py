"""Chart data for the experiment pages.

The calibration plot is server-drawn SVG (geometry here, templates/experiments/calibration.html);
the quality-versus-cost plot is data for uPlot (static/experiments/charts.js), as are the metric
curves (experiments/curves.py).
"""

import json
import math

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


def scatter_data(points, front, *, x_label, y_label):
    """The quality-versus-cost plot for static/experiments/charts.js, JSON in a data attribute.

    `points` are (label, x, y, group); the indices in `front` are the Pareto front. Groups
    (variants) keep their palette colour by name order. None when no point is finite.
    """
    points = [p for p in points if math.isfinite(p[1]) and math.isfinite(p[2])]
    if not points:
        return None
    groups = sorted({p[3] for p in points})
    colors = {group: PALETTE[i % len(PALETTE)] for i, group in enumerate(groups)}
    data = {
        "x_label": x_label,
        "y_label": y_label,
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
