"""Server-drawn SVG charts: geometry computed here, drawn by templates/experiments/_chart_*.html.

Nothing is sent to the browser but the finished shapes, so a page stays light however long
the histories are (series() has already thinned them) and needs no charting script.
"""

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


def line_chart(series, *, width=WIDTH, height=HEIGHT):
    """One polyline per (label, [(step, value)]); non-finite values break nothing, they are
    left out (the experiment is flagged for them elsewhere). None when there is nothing."""
    cleaned = [
        (label, [(x, y) for x, y in points if y is not None and math.isfinite(y)])
        for label, points in series
    ]
    cleaned = [(label, points) for label, points in cleaned if points]
    if not cleaned:
        return None
    scale = _Scale(
        [x for _, points in cleaned for x, _ in points],
        [y for _, points in cleaned for _, y in points],
        width,
        height,
    )
    lines = [
        {
            "label": label,
            "color": PALETTE[index % len(PALETTE)],
            "points": " ".join(f"{scale.x(x):.1f},{scale.y(y):.1f}" for x, y in points),
        }
        for index, (label, points) in enumerate(cleaned)
    ]
    return {"width": width, "height": height, "lines": lines, **scale.axes()}


def scatter_chart(points, front, *, width=WIDTH, height=HEIGHT):
    """Dots for (label, x, y, group) with the indices in `front` joined as the Pareto front."""
    points = [p for p in points if math.isfinite(p[1]) and math.isfinite(p[2])]
    if not points:
        return None
    scale = _Scale([p[1] for p in points], [p[2] for p in points], width, height)
    groups = sorted({p[3] for p in points})
    colors = {group: PALETTE[i % len(PALETTE)] for i, group in enumerate(groups)}
    dots = [
        {
            "label": label,
            "x": scale.x(x),
            "y": scale.y(y),
            "color": colors[group],
            "on_front": index in front,
            "title": f"{label}: {_label(x)}, {_label(y)}",
        }
        for index, (label, x, y, group) in enumerate(points)
    ]
    front_points = sorted((points[i][1], points[i][2]) for i in front if i < len(points))
    return {
        "width": width,
        "height": height,
        "dots": dots,
        "legend": [(group, colors[group]) for group in groups],
        "front": " ".join(f"{scale.x(x):.1f},{scale.y(y):.1f}" for x, y in front_points),
        **scale.axes(),
    }


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
