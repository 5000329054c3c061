"""Journey: a Lead compares every experiment's variants on quality against cost (issue 11 §3).
From the dashboard to the portfolio's quality-versus-cost page; the uPlot chart draws a point
per variant, the dominated ones faint, and the dashed Pareto front through the same variants
the table beside it lists; hovering a point names its experiment and variant; flipping the
quality to lower-is-better redraws the front. Screenshot: portfolio-pareto."""

import pytest
from playwright.sync_api import expect

from tests import factories

from .conftest import log_in, person, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.redis, pytest.mark.celery]

PLOT = "document.getElementById('portfolio-scatter').chartPlot"
# (key, title, {variant: [(accuracy, gpu_hours) per seed]})
PORTFOLIO = [
    ("EXP-11", "Speculative decoding", {"baseline": [(0.81, 140), (0.82, 146)],
                                        "candidate": [(0.80, 95), (0.81, 99)]}),
    ("EXP-12", "LoRA r=16", {"baseline": [(0.74, 60), (0.75, 62)],
                             "candidate": [(0.73, 58), (0.74, 60)]}),
    ("EXP-13", "FP8 training", {"baseline": [(0.79, 90), (0.80, 92)],
                                "candidate": [(0.72, 64), (0.73, 66)]}),
    ("EXP-14", "Multi-token heads", {"baseline": [(0.40, 30), (0.41, 31)],
                                     "candidate": [(0.39, 34), (0.40, 35)]}),
]  # fmt: skip


def _portfolio(owner):
    for key, title, variants in PORTFOLIO:
        experiment = factories.make_experiment(key=key, title=title, owner=owner)
        for variant, seeds in variants.items():
            for seed, (accuracy, gpu_hours) in enumerate(seeds, start=1):
                run = factories.make_run(experiment=experiment, variant=variant, seed=seed,
                                         name=f"{variant}-s{seed}")  # fmt: skip
                run.finish(summary={"accuracy": accuracy, "gpu_hours": gpu_hours})
    # Reports no cost: left out, and the page says so.
    lone = factories.make_experiment(key="EXP-15", title="Data mixture sweep", owner=owner)
    factories.make_run(experiment=lone, seed=1).finish(summary={"accuracy": 0.9})


def _front_table(page):
    rows = page.locator("#pareto-front tbody tr")
    return [
        (rows.nth(i).locator("td").nth(0).locator("a").inner_text(),
         rows.nth(i).locator("td").nth(1).inner_text())
        for i in range(rows.count())
    ]  # fmt: skip


def _front_series(page):
    """(experiment, variant) of each point the chart's dashed front series passes through."""
    labels = page.evaluate(
        f"(() => {{ const u = {PLOT}; const front = u.series.length - 1;"
        " const chart = JSON.parse(document.querySelector('[data-scatter]').dataset.scatter);"
        " const points = chart.points.slice().sort((a, b) => a.x - b.x);"
        " return u.data[front].map((y, i) => y == null ? null : points[i].label)"
        ".filter(label => label != null); })()"
    )
    return sorted(tuple(label.split(" (")[0].split(" · ")) for label in labels)


def test_lead_reads_the_portfolio_pareto_front(live, page):
    lead = person("alice", "Lead")
    _portfolio(lead)
    log_in(page, live.url, "alice")
    page.get_by_role("link", name="quality versus cost").click()
    plot = page.locator("#portfolio-scatter .chart-plot[data-ready=true]")
    expect(plot).to_be_visible()
    expect(plot.locator("canvas")).to_have_count(1)

    series = page.evaluate(f"{PLOT}.series.map(s => s.label)")
    assert series[-1] == "Pareto front"
    assert "EXP-14 (dominated)" in series and "EXP-11" in series
    # The dashed front goes through the variants the table lists, best quality first.
    table = _front_table(page)
    assert table == [
        ("EXP-11", "baseline"), ("EXP-11", "candidate"), ("EXP-13", "baseline"),
        ("EXP-12", "baseline"), ("EXP-12", "candidate"), ("EXP-14", "baseline"),
    ]  # fmt: skip
    assert _front_series(page) == sorted(table)
    expect(page.locator("#left-out")).to_contain_text("EXP-15")
    expect(page.locator("#left-out")).to_contain_text("no gpu_hours reported")

    # Hovering the cheapest point names its experiment and variant.
    over = plot.locator(".u-over")
    box = over.bounding_box()
    x = page.evaluate(f"{PLOT}.valToPos(30.5, 'x')")
    y = page.evaluate(f"{PLOT}.valToPos(0.405, 'y')")
    page.mouse.move(box["x"] + x, box["y"] + y)
    expect(plot.locator(".u-legend")).to_contain_text("EXP-14 · baseline (2 seeds)")
    save_screenshot(page, "portfolio-pareto")

    # Read as lower-is-better (an error rate would be), the front turns around: only the
    # least accurate variants remain, the lowest first.
    page.select_option("select[name=better]", "lower")
    page.get_by_role("button", name="Plot").click()
    expect(page.locator("#pareto-front tbody tr")).to_have_count(2)
    assert _front_table(page) == [("EXP-14", "candidate"), ("EXP-14", "baseline")]
    expect(page.locator("#portfolio-scatter .chart-plot[data-ready=true]")).to_be_visible()
    assert page.evaluate(f"{PLOT}.axes[1].label") == "accuracy (lower is better)"
    assert _front_series(page) == [("EXP-14", "baseline"), ("EXP-14", "candidate")]
