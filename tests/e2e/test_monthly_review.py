"""Journey 1, the monthly review (issue 5): a Lead opens the review, sees the agenda it built
itself (a stale item, a tripped kill criterion), moves a technique with a reason in place
(htmx, no page load), and the radar SVG and the technique's timeline show the move."""

import datetime
import re

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from tests import factories
from tests.services import set_password_for_servers

from .conftest import PASSWORD, log_in, person, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.redis, pytest.mark.celery]


def _kill_criterion_tripped(owner, technique):
    experiment = factories.make_experiment(key="EXP-FA3", title="FlashAttention-3 on our H100s",
                                           technique=technique, owner=owner)  # fmt: skip
    factories.make_criterion(experiment=experiment, kind="kill", severity="hard",
                             relative_to_baseline=True, comparator="lt", threshold=-5,
                             min_seeds=2)  # fmt: skip
    for variant, accuracy in (("baseline", 0.80), ("candidate", 0.74)):
        for seed in (1, 2):
            factories.report_run(experiment=experiment, variant=variant, seed=seed,
                                 values={"accuracy": accuracy})  # fmt: skip
    assert experiment.evaluate()  # the hard kill criterion tripped
    return experiment


def test_monthly_review(live, page):
    lead = person("alice", "Lead")
    dana = person("dana", "Member")
    long_ago = timezone.now() - datetime.timedelta(days=120)
    factories.make_technique(name="Speculative decoding", ring="trial", owner=dana, at=long_ago,
                             next_action="Benchmark on our serving stack",
                             next_action_due=datetime.date(2026, 1, 15))  # fmt: skip
    mamba = factories.make_technique(name="Mamba", ring="assess", owner=dana, at=long_ago)
    flash = factories.make_technique(name="Flash Attention", ring="adopt", owner=dana, at=long_ago)
    _kill_criterion_tripped(dana, flash)
    factories.make_review(held_on=timezone.localdate() - datetime.timedelta(days=30))
    review = factories.make_review(held_on=timezone.localdate(), notes="Monthly radar review")
    review.attendees.add(lead, dana)

    log_in(page, live.url, "alice")
    page.click("nav >> text=Reviews")
    page.click(f"a[href='{review.get_absolute_url()}']")

    # The agenda built itself: the stale item and the tripped kill criterion are on it.
    stale = page.locator("section.card", has=page.locator("h2", has_text="Stale items"))
    expect(stale).to_contain_text("Speculative decoding")
    expect(stale).to_contain_text("overdue")
    experiments = page.locator("section.card", has=page.locator("h2", has_text="Experiments"))
    expect(experiments).to_contain_text("Hard kill criterion tripped")
    expect(experiments).to_contain_text("FlashAttention-3 on our H100s")

    expect(page.locator("#radar-updates")).to_contain_text("No ring changed")
    # Move Mamba to HOLD with a reason, in place: the page is not reloaded.
    page.evaluate("window.journeyMarker = 'still the same page'")
    page.click("#decisions summary")
    decisions = page.locator("#decisions")
    decisions.locator("select[name=technique]").select_option(label="Mamba")
    decisions.locator("select[name=to_ring]").select_option("hold")
    decisions.locator("textarea[name=reason]").fill("No gain at our sequence lengths")
    decisions.locator("input[name=failed_constraint]").fill("Needs >32k context to pay off")
    decisions.locator("button[type=submit]").click()
    expect(page.locator("#decisions")).to_contain_text("Mamba")
    expect(page.locator("#decisions")).to_contain_text("Assess → Hold")
    expect(page.locator("#decisions")).to_contain_text("No gain at our sequence lengths")
    # The agenda's radar updates list the move too, without a reload.
    expect(page.locator("#radar-updates")).to_contain_text("Assess → Hold")
    assert page.evaluate("window.journeyMarker") == "still the same page"

    # The radar draws Mamba in the HOLD ring now.
    page.click("nav >> text=Radar")
    blip = page.locator(f"svg.radar-svg a[data-slug='{mamba.slug}']")
    expect(blip).to_have_class(re.compile(r"\bblip-hold\b"))
    expect(blip.locator("title")).to_contain_text("Mamba (Hold")

    # The technique's timeline shows the move, who made it and why.
    blip.click()
    timeline = page.locator("#moves")
    expect(timeline).to_contain_text("Assess → Hold")
    expect(timeline).to_contain_text("No gain at our sequence lengths")
    expect(timeline).to_contain_text("alice")
    # ...and links back to the review it was decided at, which lists it among its decisions.
    timeline.locator(f"a[href='{review.get_absolute_url()}']").click()
    expect(page.locator("#decisions")).to_contain_text("Assess → Hold")
    save_screenshot(page, "monthly-review")


def test_radar_with_demo_data(live, page, settings):
    """The README's opening picture: the radar as a newcomer sees it after `make run`."""
    call_command("load_demo")
    set_password_for_servers(User.objects.get(username="alice"), PASSWORD)
    log_in(page, live.url, "alice")
    page.click("nav >> text=Radar")
    expect(page.locator("svg.radar-svg")).to_be_visible()
    assert page.locator("svg.radar-svg a.blip").count() >= 15
    save_screenshot(page, "radar", full_page=False)
