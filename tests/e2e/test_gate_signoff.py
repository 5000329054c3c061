"""Journey 3, gate sign-off (issue 5): a Member sees the gate but cannot decide it; a Lead
decides NOT YET with conditions, then YES; the experiment advances to the next stage and its
history shows both decisions."""

import pytest
from playwright.sync_api import expect

from tests import factories

from .conftest import log_in, person, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.redis, pytest.mark.celery]

CONDITIONS = "Three more seeds on the long-context eval set"


def test_gate_signoff(live, page, chromium):
    person("alice", "Lead")
    dana = person("dana", "Member")
    person("bob", "Member")
    technique = factories.make_technique(name="FlashAttention-3", ring="assess", owner=dana)
    experiment = factories.make_experiment(
        key="EXP-FA3", title="FlashAttention-3 on our H100s", technique=technique, owner=dana,
        hypothesis="FA3 cuts step time by 20% with no accuracy loss.",
    )  # fmt: skip
    factories.make_criterion(experiment=experiment, metric="accuracy", comparator="ge",
                             threshold=0.8, min_seeds=2)  # fmt: skip
    for seed in (1, 2):
        factories.report_run(experiment=experiment, variant="candidate", seed=seed,
                             values={"accuracy": 0.84})  # fmt: skip
    experiment.evaluate()
    url = f"{live.url}{experiment.get_absolute_url()}"

    # A Member sees the gate and its evidence, but every decision button is disabled.
    member = chromium.new_context(viewport={"width": 1366, "height": 900})
    member_page = member.new_page()
    log_in(member_page, live.url, "bob")
    member_page.goto(url)
    gate = member_page.locator("#gate")
    expect(gate).to_contain_text("Gate: Discovery")
    expect(gate).to_contain_text("Only a Lead decides gates")
    for decision in ("YES", "NOT YET", "NO"):
        expect(gate.get_by_role("button", name=decision, exact=True)).to_be_disabled()
    member.close()

    # A Lead decides NOT YET with conditions, in place.
    log_in(page, live.url, "alice")
    page.goto(url)
    page.evaluate("window.journeyMarker = 'same page'")
    gate = page.locator("#gate")
    gate.locator("textarea[name=conditions]").fill(CONDITIONS)
    gate.get_by_role("button", name="NOT YET", exact=True).click()
    decisions = page.locator("#gate ul.timeline")
    expect(decisions).to_contain_text("Not yet")
    expect(decisions).to_contain_text(CONDITIONS)
    expect(page.locator("#gate h2")).to_contain_text("Discovery")  # still the same stage

    # ...then YES: the experiment advances to Validation.
    page.locator("#gate").get_by_role("button", name="YES", exact=True).click()
    expect(page.locator("#gate h2")).to_contain_text("Gate: Validation")
    assert page.evaluate("window.journeyMarker") == "same page"

    # The history shows both decisions, also after a fresh load.
    page.reload()
    history = page.locator("#history")
    expect(history).to_contain_text("Discovery gate: Not yet")
    expect(history).to_contain_text(CONDITIONS)
    expect(history).to_contain_text("Discovery gate: Yes")
    expect(history).to_contain_text("Stage Discovery → Validation")
    expect(page.locator("#gate ul.timeline > li")).to_have_count(2)
    experiment.refresh_from_db()
    assert experiment.stage == "validation"
    save_screenshot(page, "gate-signoff")
