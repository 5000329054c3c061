"""Journey: from a PDF to an answered question, and a watch's papers triaged (issue 12).

A Member attaches a paper's PDF and watches the status poll until its text is read into
passages; searches for a sentence of the body and finds it at its page; opens that passage and
the PDF at that page; cites the passage as supporting evidence for a research question and
answers the question (a question without support is refused); then a saved library search
brings new papers into the inbox, and each gets its first pass in one click.
"""

import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from papers.models import Passage, QuestionLink, ReadingState, TriageItem
from papers.models.questions import ANSWERED_NEEDS_SUPPORT
from papers.pdf_builder import text_pdf
from tests import factories

from .conftest import log_in, person, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.redis, pytest.mark.celery]

RING = "Ring Attention with Blockwise Transformers for Near-Infinite Context"
# Only in the body of page 2 of the PDF: not in any title, abstract or note.
BODY_SENTENCE = "Blockwise ring scheduling kept peak activation memory at 41 gigabytes"
PAGES = [
    "Ring Attention with Blockwise Transformers\n"
    + " ".join(f"Attention needs memory quadratic in the length, remark {n}." for n in range(30))
    + "\n"
    + " ".join(f"Prior work trades exactness for length, as survey {n} notes." for n in range(30)),
    " ".join(f"Each device holds one block of queries, step {n} of the ring." for n in range(30))
    + "\n"
    + f"{BODY_SENTENCE} for a one million token context on eight accelerators. "
    + " ".join(f"Communication overlapped compute in trial {n}." for n in range(30)),
    " ".join(f"The limits of this study are listed in item {n}." for n in range(30))
    + "\n"
    + " ".join(f"Future work extends the ring to pipeline stages, idea {n}." for n in range(30)),
]
WATCHED = [
    "Speculative Decoding with Big Little Decoder",
    "Medusa: Simple Speculative Decoding Framework with Multiple Heads",
    "EAGLE: Speculative Sampling Requires Rethinking Feature Uncertainty",
]


def _search(page, query):
    box = page.locator("input[name=q]")
    box.fill("")
    box.press_sequentially(query, delay=40)  # a person typing, no Enter


def _attach_pdf_and_watch_it_read(page, live, paper, tmp):
    page.goto(f"{live.url}{paper.get_absolute_url()}")
    expect(page.locator("h1")).to_contain_text("Ring Attention", timeout=30_000)
    region = page.locator("#paper-pdf")
    expect(region).to_contain_text("No PDF yet.")
    polls = []
    page.on("request", lambda r: polls.append(r.url) if "/pdf/status/" in r.url else None)
    page.evaluate("window.journeyMarker = 'uploading'")
    pdf_path = tmp / "ring-attention.pdf"
    pdf_path.write_bytes(text_pdf(PAGES))
    region.locator("input[type=file]").set_input_files(str(pdf_path))
    region.locator("button[type=submit]", has_text="Upload").click()

    status = page.locator("#paper-pdf .pdf-status")
    expect(status).to_be_visible()
    first_state = status.get_attribute("data-state")
    if first_state in ("queued", "extracting"):
        # The worker has not read it yet: a spinner, and the region polls its status.
        expect(page.locator("#paper-pdf .spinner")).to_be_visible()
    expect(status).to_have_attribute("data-state", "extracted", timeout=60_000)
    count = Passage.objects.filter(paper=paper).count()
    expect(status).to_contain_text(re.compile(rf"{count} passages on 3 of 3 pages"))
    expect(page.locator("#paper-pdf .spinner")).to_have_count(0)
    # It came in place, by htmx, with no page load; polled while the worker was reading.
    assert page.evaluate("window.journeyMarker") == "uploading"
    assert first_state == "extracted" or polls, (first_state, polls)
    return count


def test_paper_journey(live, page):
    bob = person("bob", "Member")
    paper = factories.make_paper(
        title=RING,
        abstract="Long sequences across devices with blockwise attention computed in a ring.",
        authors=["Hao Liu", "Matei Zaharia", "Pieter Abbeel"],
        year=2023,
        venue="ICLR",
    )
    question = factories.make_question(question="Can ring attention serve 1M-token contexts?")
    unsupported = factories.make_question(question="Does LoRA match full fine-tuning at 70B?")
    log_in(page, live.url, "bob")

    # 1. The PDF, uploaded on the paper's page; the status polls until the text is read.
    with tempfile.TemporaryDirectory() as tmp:
        count = _attach_pdf_and_watch_it_read(page, live, paper, Path(tmp))
    assert count > 3  # enough for the list of passages to be folded
    page.click("#paper-pdf details.passages summary")
    expect(page.locator("#paper-pdf article.passage")).to_have_count(count)
    save_screenshot(page, "papers-pdf-passages")

    # 2. Search finds the sentence of the body, at its page.
    passage = Passage.objects.get(paper=paper, text__contains=BODY_SENTENCE)
    assert passage.page == 2
    page.click("nav >> text=Search")
    hit = page.locator("#search-results li.search-result", has_text="Ring Attention").first
    # The passages reach the search index moments after the worker stores them: search
    # again (the Search button) until they have, a bounded number of times.
    _search(page, BODY_SENTENCE)
    for _ in range(30):
        expect(page.locator("#search-indicator.htmx-request")).to_have_count(0)
        if hit.locator(".snippet", has_text="41 gigabytes").count():
            break
        page.wait_for_timeout(500)
        page.click("form[role=search] button[type=submit]")
    snippet = hit.locator(".snippet")
    expect(snippet).to_contain_text("peak activation memory")
    expect(snippet.locator("a.badge")).to_have_text("p. 2")
    save_screenshot(page, "papers-search-passage")

    # 3. The passage, on the paper page, picked out; and the PDF at its page.
    snippet.locator("a.badge").click()
    page.wait_for_url(f"**{paper.get_absolute_url()}#passage-{passage.pk}")
    target = page.locator(f"#passage-{passage.pk}")
    expect(target).to_be_visible()  # the folded list opens at the passage
    expect(target).to_contain_text(BODY_SENTENCE)
    assert page.evaluate("document.querySelector(':target').id") == f"passage-{passage.pk}"
    expect(target).to_have_css("background-color", "rgb(255, 243, 176)")
    pdf_link = target.locator("a.pdf-page")
    expect(pdf_link).to_have_text("p. 2")
    href = pdf_link.get_attribute("href")
    assert href.endswith(f"{paper.get_absolute_url()}pdf#page=2"), href
    # Headless Chromium may download a PDF rather than show it: what matters is that the link
    # serves the PDF itself, to this logged-in reader.
    served = page.request.get(f"{live.url}{href}")
    assert served.status == 200
    assert served.headers["content-type"] == "application/pdf"
    assert served.body().startswith(b"%PDF-")

    # 4. The passage, cited as supporting evidence, with why.
    cite = target.locator("details.passage-cite")
    cite.locator("summary").click()
    cite.locator("select[name=question]").select_option(str(question.pk))
    cite.locator("select[name=stance]").select_option("supports")
    cite.locator("input[name=rationale]").fill("41 GB at 1M tokens fits one 8-GPU node")
    cite.locator("button[type=submit]").click()
    evidence = target.locator(".passage-evidence")
    expect(evidence).to_contain_text(question.question)
    expect(evidence.locator(".badge")).to_have_text("Supports")
    link = QuestionLink.objects.get(question=question)
    assert (link.passage, link.stance, link.added_by) == (passage, "supports", bob)

    # 5. Answered, with that support; a question with none is refused.
    page.goto(f"{live.url}{unsupported.get_absolute_url()}")
    conclusion = page.locator("#conclusion")
    conclusion.locator("select[name=status]").select_option("answered")
    conclusion.locator("textarea[name=conclusion]").fill("Yes, at rank 64.")
    conclusion.locator("button[type=submit]").click()
    expect(page.locator("#conclusion")).to_contain_text(ANSWERED_NEEDS_SUPPORT)
    expect(page.locator("#conclusion h2 .badge")).to_have_text("Open")

    page.goto(f"{live.url}{paper.get_absolute_url()}#passage-{passage.pk}")
    page.locator(f"#passage-{passage.pk} .passage-evidence a", has_text=question.question).click()
    expect(page.locator("h1")).to_have_text(question.question)
    supports = page.locator("#evidence-supports")
    expect(supports.locator("h3 .count")).to_have_text("1")
    cited = supports.locator("a.badge", has_text="p. 2")
    expect(cited).to_have_attribute("href", f"{paper.get_absolute_url()}#passage-{passage.pk}")
    expect(supports).to_contain_text("41 GB at 1M tokens fits one 8-GPU node")
    conclusion = page.locator("#conclusion")
    conclusion.locator("select[name=status]").select_option("answered")
    conclusion.locator("textarea[name=conclusion]").fill(
        "Yes: blockwise ring attention held **41 GB** at 1M tokens on one node."
    )
    conclusion.locator("button[type=submit]").click()
    expect(page.locator("#conclusion h2 .badge")).to_have_text("Answered")
    expect(page.locator("#conclusion .prose strong").first).to_have_text("41 GB")
    expect(page.locator("#conclusion .timeline")).to_contain_text("Answered")
    save_screenshot(page, "question-answered")

    # 6. A saved library search; papers added after it arrive in the inbox when it polls.
    page.click("nav >> text=Inbox")
    watch_form = page.locator("#watches form")
    watch_form.locator("input[name=name]").fill("Speculative decoding")
    watch_form.locator("select[name=kind]").select_option("library")
    watch_form.locator("[name=query]").fill("speculative decoding")
    watch_form.locator("button[type=submit]").click()
    expect(page.locator(".messages")).to_contain_text("Watching Speculative decoding")
    watch_url = page.url
    for title in WATCHED:
        factories.make_paper(title=title, abstract="Draft tokens verified by the large model.")
    factories.make_paper(title="Mamba: Linear-Time Sequence Modeling", abstract="State spaces.")
    # The new papers reach the keyword index moments after they are saved: poll the watch
    # again until all three are found, a bounded number of times.
    for _ in range(30):
        page.goto(watch_url)
        page.click("#watch button[type=submit] >> text=Poll now")
        expect(page.locator(".messages")).to_contain_text("Poll queued")
        page.wait_for_timeout(500)
        if TriageItem.objects.untriaged().count() == len(WATCHED):
            break
    page.goto(f"{live.url}/")
    expect(page.locator("#untriaged-count")).to_contain_text("3 new papers to triage")
    page.click("#untriaged-count a")
    inbox = page.locator("#inbox")
    expect(page.locator("#inbox-count")).to_have_text("3")
    for title in WATCHED:
        expect(inbox).to_contain_text(title)
    expect(inbox).not_to_contain_text("Mamba")
    save_screenshot(page, "triage-inbox")

    def triage(title, decision):
        inbox.locator("li", has_text=title).locator("button", has_text=decision).click()

    triage(WATCHED[0], "Read later")
    expect(page.locator("#inbox-count")).to_have_text("2")
    expect(inbox).not_to_contain_text(WATCHED[0])
    triage(WATCHED[1], "Skip")
    expect(page.locator("#inbox-count")).to_have_text("1")
    triage(WATCHED[2], "Read now")
    # Read now opens the paper's note, where the first pass is written down.
    expect(page.locator("h1")).to_have_text("Write my note")
    expect(page.locator(".lede")).to_contain_text("EAGLE")
    page.goto(f"{live.url}/")
    expect(page.locator("#untriaged-count")).to_contain_text("Inbox: nothing to triage")
    page.click("#untriaged-count ~ h3 a >> text=My reading queue")
    queue = page.locator("main table").first
    expect(queue.locator("tr", has_text=WATCHED[0])).to_contain_text("To read")
    expect(queue).not_to_contain_text(WATCHED[1])
    states = dict(ReadingState.objects.filter(user=bob).values_list("paper__title", "state"))
    assert states == {WATCHED[0]: "to_read", WATCHED[2]: "pass_1"}
