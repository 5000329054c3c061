"""Journey: the experiment page's interactive charts (issue 11, part 3). A Lead opens an
experiment with long loss curves, zooms one by dragging (the window is fetched again at full
resolution), turns on the log scale, smoothing
and the mean +/- std band, sees the zoom survive the evidence region's refresh, and resets it
with a double-click. Screenshots: charts-curve, charts-zoomed, charts-log."""

import math
import time

import numpy as np
import pytest
from playwright.sync_api import expect

from tests import factories

from .conftest import ARTIFACTS, SCREENSHOTS, log_in, person

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.redis, pytest.mark.celery]

POINTS = 20_000
STATE = "document.getElementById('curve-chart').chartState"


def _experiment_with_curves():
    lead = person("alice", "Lead")
    experiment = factories.make_experiment(
        key="EXP-CURVES", title="Warm-up schedule on the small LM", owner=lead,
        hypothesis="A longer warm-up lowers the final loss.",
    )  # fmt: skip
    rng = np.random.default_rng(3)
    steps = np.arange(POINTS)
    for variant, floor in (("baseline", 0.9), ("candidate", 0.75)):
        for seed in (1, 2, 3):
            run = factories.make_run(experiment=experiment, variant=variant, seed=seed,
                                     name=f"{variant}-s{seed}")  # fmt: skip
            loss = 3 * np.exp(-steps / 3000) + floor + rng.normal(0, 0.03, POINTS)
            loss = loss.tolist()
            loss[12_345] = math.nan  # flagged, drawn as a gap
            run.log_points(
                [{"key": "loss", "step": int(step), "value": value}
                 for step, value in zip(steps, loss, strict=True)],
                idempotency_key="journey",
            )  # fmt: skip
            accuracy = 0.8 + (0.03 if variant == "candidate" else 0) + rng.normal(0, 0.005)
            run.finish(summary={"accuracy": accuracy, "latency_ms": 50 + rng.normal(0, 2)})
    return experiment


def _x_range(page):
    return page.evaluate(f"[{STATE}.plot.scales.x.min, {STATE}.plot.scales.x.max]")


def _wait_until(page, expression, timeout=15):
    """Poll from here: wait_for_function evaluates a string, which the page's CSP refuses."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout} s: {expression}"
        page.wait_for_timeout(100)


def _shot(page, locator, name):
    ARTIFACTS.mkdir(exist_ok=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    locator.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    locator.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def test_zoom_log_scale_smoothing_and_band(live, page):
    experiment = _experiment_with_curves()
    log_in(page, live.url, "alice")
    page.goto(f"{live.url}{experiment.get_absolute_url()}?metric=loss")
    card = page.locator("section.card", has=page.locator("h2", has_text="Metric curves"))
    plot = page.locator("#curve-chart .chart-plot[data-ready=true]")
    expect(plot).to_be_visible()
    # Every run arrives downsampled to about the chart's width, its NaN a gap (null).
    runs = page.evaluate(f"{STATE}.payload.runs.map(r => [r.name, r.values.length, "
                         "r.values.includes(null)])")  # fmt: skip
    assert len(runs) == 6
    assert all(length <= 2000 and has_gap for _, length, has_gap in runs), runs
    assert _x_range(page) == [0, POINTS - 1]
    card.scroll_into_view_if_needed()
    _shot(page, card, "charts-curve")

    # Drag across the middle of the plot: the x axis zooms to what was dragged over.
    over = card.locator(".u-over")
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.3, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=8)
    page.mouse.up()
    low, high = _x_range(page)
    assert POINTS * 0.2 < low < high < POINTS * 0.7, (low, high)
    # ...and fetches that window again at full resolution.
    _wait_until(page, f"{STATE}.payload.window !== null")
    inside = page.evaluate(f"{STATE}.payload.runs[0].steps.filter(s => s >= {low} && s <= {high})"
                           ".length")  # fmt: skip
    overview = page.evaluate(f"{STATE}.overview.runs[0].steps.filter(s => s >= {low} && "
                             f"s <= {high}).length")  # fmt: skip
    assert inside > 2 * overview, (inside, overview)
    # The hover legend shows each run's value at the cursor.
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    expect(card.locator(".u-legend .u-series").nth(1).locator(".u-value")).not_to_have_text("—")
    _shot(page, card, "charts-zoomed")

    # Log scale, smoothing and the band keep the zoom.
    card.locator("[data-control=log]").check()
    card.locator("[data-control=smoothing]").fill("0.9")
    card.locator("[data-control=band]").check()
    assert page.evaluate(f"{STATE}.plot.scales.y.distr") == 3
    assert _x_range(page) == [low, high]
    series = page.evaluate(f"{STATE}.plot.series.map(s => s.label)")
    assert "baseline mean (3 runs)" in series and "candidate + std" in series
    _shot(page, card, "charts-log")

    # The evidence region refreshes itself (the experiment is active); the chart is kept.
    page.evaluate("new Promise(done => document.addEventListener('htmx:afterSettle', done, "
                  "{once: true}))")  # fmt: skip
    assert _x_range(page) == [low, high]
    assert page.evaluate(f"{STATE}.log") is True

    # A double-click shows the whole run again.
    over.dblclick()
    _wait_until(page, f"{STATE}.payload.window === null")
    assert _x_range(page) == [0, POINTS - 1]

    # The quality-versus-cost plot is drawn too, with its Pareto front.
    scatter = page.locator("#scatter-chart .chart-plot[data-ready=true]")
    expect(scatter).to_be_visible()
    expect(scatter.locator(".u-legend")).to_contain_text("Pareto front")
