"""Journey 4, training evidence (issue 5): with the experiment page open, the example training
script reports a baseline and a candidate through the client; the page shows the runs, the
curves and the statistics without a manual reload."""

import subprocess

import pytest
from playwright.sync_api import expect

from tests import factories
from tests.services import PYTHON, ROOT

from .conftest import log_in, person, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.redis, pytest.mark.celery]

SEEDS = 2
RUNS = [f"{variant}-s{seed}" for variant in ("baseline", "candidate") for seed in (1, 2)]


def test_training_evidence(live, page, tmp_path):
    person("alice", "Lead")
    dana = person("dana", "Member")
    experiment = factories.make_experiment(
        key="EXP-SPIRALS", title="Wider classifier on two spirals", owner=dana,
        hypothesis="A 64-unit network beats the 16-unit baseline on accuracy.",
    )  # fmt: skip
    factories.make_criterion(experiment=experiment, metric="accuracy", comparator="ge",
                             threshold=0.6, min_seeds=SEEDS)  # fmt: skip
    _, key = factories.make_token(experiment=experiment)

    # The page is open before training starts, as when a researcher watches a job.
    log_in(page, live.url, "alice")
    page.goto(f"{live.url}{experiment.get_absolute_url()}")
    expect(page.locator("#evidence")).to_contain_text("No runs yet")
    page.evaluate("window.journeyMarker = 'never reloaded'")

    job = subprocess.Popen(
        [PYTHON, "examples/train_example.py", "--experiment", experiment.key,
         "--seeds", str(SEEDS), "--steps", "80", "--step-delay", "0.03"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**live.env, "ASSAY_URL": live.url, "ASSAY_TOKEN": key,
             "ASSAY_SPOOL_DIR": str(tmp_path / "spool")},
    )  # fmt: skip
    try:
        evidence = page.locator("#evidence")
        # Runs appear while the job trains (the region polls the server). The first run
        # reports within seconds of the job starting; 30 s is ample.
        expect(evidence).to_contain_text("baseline-s1", timeout=30_000)
        output, _ = job.communicate(timeout=240)
    finally:
        if job.poll() is None:
            job.kill()
            job.wait(10)
    assert job.returncode == 0, output

    evidence = page.locator("#evidence")
    for name in RUNS:
        expect(evidence).to_contain_text(name, timeout=30_000)
    finished = evidence.locator("span.badge", has_text="finished")
    expect(finished).to_have_count(len(RUNS), timeout=30_000)
    # Curves: one line per run in the curves chart, each in its legend after the x axis (the
    # scatter beside it draws the Pareto front).
    curves = evidence.locator("#curve-chart .u-legend .u-series")
    expect(curves).to_have_count(len(RUNS) + 1)
    expect(evidence.locator("#scatter-chart .u-legend")).to_contain_text("Pareto front")
    # Statistics: both variants with their seeds, a test verdict and the criterion's result.
    stats = evidence.locator("section.card", has=page.locator("h2", has_text="Baseline versus"))
    expect(stats).to_contain_text("accuracy")
    expect(stats).not_to_contain_text("No metrics reported yet")
    expect(stats.locator("span.badge", has_text="significant").first).to_be_visible()
    # The criteria card above the evidence follows too: evaluated, no longer pending.
    criterion = page.locator("#criteria tbody tr").first
    expect(criterion).to_contain_text("accuracy")
    expect(criterion.locator("span.badge", has_text="pending")).to_have_count(0, timeout=30_000)
    expect(criterion.locator("td").nth(3)).not_to_be_empty()  # the observed mean
    # ...and so does the gate's reason for refusing YES, once the evidence is in.
    expect(page.locator("#gate-blockers")).not_to_contain_text("lacks evidence", timeout=30_000)
    assert page.evaluate("window.journeyMarker") == "never reloaded"
    save_screenshot(page, "training-evidence")
