"""Journey: hardware and precision drift (issue 11, part 2). A Lead opens an experiment whose
runs trained on H100 and on MI300X, sees the runs grouped by platform and the reference
criterion failed with its first divergent step, zooms the loss curve and turns on its log
scale, opens the drift comparison between the two platforms, sets a relative tolerance and
finds the step where the MI300X run leaves it, on the table and on the chart (log scale too).
Screenshots: drift-experiment, drift-compare, drift-chart-log."""

import numpy as np
import pytest
from playwright.sync_api import expect

from experiments.models import Criterion
from tests import factories

from .conftest import log_in, person
from .test_charts import STATE, _shot, _wait_until, _x_range

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.redis, pytest.mark.celery]

POINTS = 20_000
DIVERGES_AT = 12_000
DRIFT = "document.getElementById('drift-chart').chartState"
H100 = {"accelerator_vendor": "nvidia", "accelerator_model": "H100 80GB HBM3",
        "runtime": "cuda", "runtime_version": "12.4", "precision": "bf16"}  # fmt: skip
MI300X = {"accelerator_vendor": "amd", "accelerator_model": "MI300X", "runtime": "rocm",
          "runtime_version": "6.2", "precision": "bf16"}  # fmt: skip


def _ported_experiment():
    lead = person("alice", "Lead")
    experiment = factories.make_experiment(
        key="EXP-PORT", title="Train the 7B on MI300X", owner=lead,
        hypothesis="The MI300X loss stays within 0.1% of the H100 run at every step.",
    )  # fmt: skip
    criterion = Criterion(
        experiment=experiment, kind="success", metric="loss", check_kind="matches_reference",
        reference_platform="NVIDIA H100 80GB HBM3 · bf16", platform="AMD MI300X · bf16",
        rel_tolerance=1e-3,
    )  # fmt: skip
    criterion.full_clean()
    criterion.save()
    rng = np.random.default_rng(5)
    steps = np.arange(POINTS)
    loss = 3 * np.exp(-steps / 3000) + 0.8 + rng.normal(0, 0.02, POINTS)
    drift = np.where(steps < DIVERGES_AT, 1e-5, 2e-3 + (steps - DIVERGES_AT) / POINTS * 0.05)
    for name, platform, values in (
        ("h100-bf16-s1", H100, loss),
        ("mi300x-bf16-s1", MI300X, loss * (1 + drift)),
    ):
        run = factories.make_run(experiment=experiment, name=name, seed=1,
                                 params={"lr": 3e-4}, **platform)  # fmt: skip
        run.log_points(
            [{"key": "loss", "step": int(step), "value": float(value)}
             for step, value in zip(steps, values, strict=True)],
            idempotency_key="journey",
        )  # fmt: skip
        run.finish(summary={"loss": float(values[-1])})
    experiment.evaluate()
    return experiment


def test_zoom_log_scale_and_the_first_divergent_step_between_two_platforms(live, page):
    experiment = _ported_experiment()
    log_in(page, live.url, "alice")
    page.goto(f"{live.url}{experiment.get_absolute_url()}?metric=loss")

    # The runs, grouped by platform; the criterion failed at the step the MI300X run left.
    runs = page.locator("#runs-table")
    expect(runs.locator("tbody.platform-group")).to_have_count(2)
    expect(runs).to_contain_text("NVIDIA H100 80GB HBM3 · bf16")
    expect(runs).to_contain_text("AMD MI300X · bf16")
    criteria = page.locator("#criteria")
    expect(criteria).to_contain_text("not met")
    expect(criteria.locator("a.drift-evidence")).to_have_text(f"diverges at step {DIVERGES_AT}")

    # Zoom the loss curve by dragging over it, then the log scale.
    card = page.locator("section.card", has=page.locator("h2", has_text="Metric curves"))
    expect(page.locator("#curve-chart .chart-plot[data-ready=true]")).to_be_visible()
    card.scroll_into_view_if_needed()  # the mouse only reaches what is on screen
    over = card.locator(".u-over")
    box = over.bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.5, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.7, y, steps=8)
    page.mouse.up()
    low, high = _x_range(page)
    assert POINTS * 0.4 < low < high < POINTS * 0.8, (low, high)
    _wait_until(page, f"{STATE}.payload.window !== null")
    card.locator("[data-control=log]").check()
    assert page.evaluate(f"{STATE}.plot.scales.y.distr") == 3
    assert _x_range(page) == [low, high]
    page.locator("#runs-table").scroll_into_view_if_needed()
    _shot(page, page.locator("#evidence"), "drift-experiment")

    # The drift comparison proposes the same setup on the other platform.
    page.locator("#drift-link").click()
    page.wait_for_url("**/drift/**")
    form = page.locator("#drift-form")
    expect(form).to_contain_text("same params, other platform")
    expect(form.locator("select[name=reference] option:checked")).to_contain_text("h100-bf16-s1")
    form.locator("input[name=rel_tol]").fill("1e-3")
    form.locator("button").click()
    row = page.locator("#drift-table tbody tr", has_text="mi300x-bf16-s1")
    expect(row.locator(".first-divergent")).to_have_text(f"step {DIVERGES_AT}")
    chart = page.locator("#drift-chart .chart-plot[data-ready=true]")
    expect(chart).to_be_visible()
    first = page.evaluate(f"{DRIFT}.chart.series[0].first_divergent_step")
    assert first == DIVERGES_AT
    assert page.evaluate(f"{DRIFT}.chart.series[0].steps.length") <= 3 * 800
    _shot(page, page.locator("main"), "drift-compare")

    # Relative differences on a log scale: the jump at the divergence spans decades.
    drift_card = page.locator(".drift-card")
    drift_card.locator("input[value=rel]").check()
    drift_card.locator("[data-control=log]").check()
    assert page.evaluate(f"{DRIFT}.plot.scales.y.distr") == 3
    assert page.evaluate(f"{DRIFT}.kind") == "rel"
    _shot(page, drift_card, "drift-chart-log")
