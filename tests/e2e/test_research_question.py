"""Journey: question-driven exploration (issue 12 §3). A Member opens a research question,
says what would resolve it, cannot mark it answered without support, adds a candidate paper
from search as evidence in one click (stance and why), cites an experiment, and answers it;
the evidence map counts each group and the conclusion keeps its history."""

import pytest
from playwright.sync_api import expect

from papers.models import QuestionLink
from papers.models.questions import ANSWERED_NEEDS_SUPPORT
from tests import factories

from .conftest import log_in, person, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.redis, pytest.mark.celery]

RING = "Ring Attention with Blockwise Transformers for Near-Infinite Context"


def test_research_question(live, page):
    person("bob", "Member")
    factories.make_paper(
        title=RING,
        abstract="Long sequences across devices with blockwise attention computed in a ring.",
        year=2023,
    )
    factories.make_paper(
        title="LoRA: Low-Rank Adaptation of Large Language Models",
        abstract="Trainable rank decomposition matrices.",
        year=2021,
    )
    experiment = factories.make_experiment(key="EXP-7", title="Ring attention at 1M tokens")
    question = factories.make_question(question="Can ring attention serve 1M-token contexts?")

    log_in(page, live.url, "bob")
    # The candidates come from the search index, which the worker fills after the papers are
    # saved: reload the page until the paper is proposed, a bounded number of times.
    candidate = page.locator(".question-candidates li.search-result", has_text="Ring Attention")
    for _ in range(30):
        page.goto(f"{live.url}{question.get_absolute_url()}")
        expect(page.locator(".question-candidates")).to_be_visible()
        if candidate.count():
            break
        page.wait_for_timeout(500)
    expect(candidate).to_be_visible()

    # What would resolve it, in place.
    resolve = page.locator("#resolve")
    resolve.locator("textarea").fill("Throughput of a **1M-token** request on one 8xH100 node")
    resolve.locator("button[type=submit]").click()
    expect(page.locator("#resolve strong")).to_have_text("1M-token")

    # Answered without supporting evidence: refused, with the reason.
    conclusion = page.locator("#conclusion")
    conclusion.locator("select[name=status]").select_option("answered")
    conclusion.locator("textarea[name=conclusion]").fill("Yes, at 8 GPUs.")
    conclusion.locator("button[type=submit]").click()
    expect(page.locator("#conclusion")).to_contain_text(ANSWERED_NEEDS_SUPPORT)

    # One click from the candidates: stance, why, add. The map counts it; the candidate goes.
    candidate.locator("select[name=stance]").select_option("supports")
    candidate.locator("input[name=rationale]").fill("Context scales with the number of devices")
    candidate.locator("button[type=submit]").click()
    supports = page.locator("#evidence-supports")
    expect(supports).to_contain_text("Context scales with the number of devices")
    expect(supports.locator("h3 .count")).to_have_text("1")
    expect(candidate).to_have_count(0)

    # The team's own experiment, as contradicting evidence.
    page.click("#evidence summary >> text=Cite an experiment, a run or a technique")
    work = page.locator("#evidence form").filter(has=page.locator("select[name=experiment]"))
    work.locator("select[name=experiment]").select_option(str(experiment.pk))
    work.locator("select[name=stance]").select_option("contradicts")
    work.locator("textarea[name=rationale]").fill("Our 1M run ran out of memory at 4 GPUs")
    work.locator("button[type=submit]").click()
    contradicts = page.locator("#evidence-contradicts")
    expect(contradicts).to_contain_text("EXP-7 Ring attention at 1M tokens")
    expect(contradicts.locator("h4")).to_contain_text("Experiments and runs")

    # Now the answer stands, and the history keeps it.
    conclusion = page.locator("#conclusion")
    conclusion.locator("select[name=status]").select_option("answered")
    conclusion.locator("textarea[name=conclusion]").fill("Yes, at 8 GPUs; not at 4.")
    conclusion.locator("button[type=submit]").click()
    expect(page.locator("#conclusion h2 .badge")).to_have_text("Answered")
    expect(page.locator("#conclusion .timeline")).to_contain_text("Yes, at 8 GPUs; not at 4.")
    assert QuestionLink.objects.filter(question=question).count() == 2
    save_screenshot(page, "research-question")
