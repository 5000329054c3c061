"""User-written text cannot inject script into Assay's pages (issue 5, "Bad input and security").

Known XSS payloads go into every field people write: Markdown (technique description, paper
notes, question conclusions and what would resolve them, experiment hypotheses and learnings,
post-mortems, review notes) and plain text (evidence's why and quote; technique names, which
the server draws into the SVG radar; move reasons).
Each page that shows them is parsed as a browser would, and must contain no element, event
handler or URL that could run the payload.
"""

import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db

MARKER = "XSS"
PAYLOADS = [
    "<script>alert('XSS')</script>",
    "<img src=x onerror=alert('XSS')>",
    "<svg onload=alert('XSS')><circle r=1 /></svg>",
    "<iframe src=\"javascript:alert('XSS')\"></iframe>",
    "<a href=\"javascript:alert('XSS')\">click</a>",
    "<a href=\"&#106;avascript:alert('XSS')\">entity-encoded</a>",
    "<a href=\"jav&#x09;ascript:alert('XSS')\">tab inside</a>",
    "[markdown link](javascript:alert('XSS'))",
    "[mixed case](JaVaScRiPt:alert('XSS'))",
    "![markdown image](javascript:alert('XSS'))",
    "[data url](data:text/html;base64,PHNjcmlwdD5hbGVydCgnWFNTJyk8L3NjcmlwdD4=)",
    "<details open ontoggle=alert('XSS')>x</details>",
    "<div style=\"background:url(javascript:alert('XSS'))\""
    " onmouseover=\"alert('XSS')\">hover</div>",
    "\"><script>alert('XSS')</script><p title=\"",
    "</textarea><script>alert('XSS')</script>",
    "<object data=\"javascript:alert('XSS')\"></object><embed src=\"javascript:alert('XSS')\">",
    "<form action=\"javascript:alert('XSS')\"><button>go</button></form>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert('XSS')>",
    "```\n</code><script>alert('XSS')</script>\n```",
]
PAYLOAD_TEXT = "\n\n".join(PAYLOADS)
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "poster", "srcdoc"}
DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:text/html")
# Elements that can run or embed active content: none of them belongs in user text.
ACTIVE_ELEMENTS = {"iframe", "object", "embed", "base", "frame", "frameset", "applet", "meta"}


class _ScriptFinder(HTMLParser):
    """Everything in a page that a browser could execute."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems = []
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.in_script = True
            src = dict(attrs).get("src") or ""
            if src and not src.startswith("/static/"):
                self.problems.append(f"script from {src}")
        if tag in ACTIVE_ELEMENTS and tag != "meta":
            self.problems.append(f"<{tag}> element")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> event handler")
            if name in URL_ATTRIBUTES:
                squeezed = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                if squeezed.startswith(DANGEROUS_SCHEMES):
                    self.problems.append(f"<{tag} {name}={value!r}>")
            if name == "style" and "javascript:" in value.lower():
                self.problems.append(f"<{tag} style={value!r}>")

    def handle_endtag(self, tag):
        if tag == "script":
            self.in_script = False

    def handle_data(self, data):
        if self.in_script and MARKER in data:
            self.problems.append(f"inline script running the payload: {data.strip()[:80]}")


# A second net over the raw text, for markup that a browser parses differently from Python's
# parser (inside <math> or <svg>, "<style>" is not raw text, so a tag in it is live).
RAW_HANDLER = re.compile(r"<[a-zA-Z][^<>]*?[\s/\"']on[a-z]+\s*=", re.IGNORECASE)
RAW_SCRIPT = re.compile(r"<script\b[^>]*>", re.IGNORECASE)


def assert_no_script(html, where):
    finder = _ScriptFinder()
    finder.feed(html)
    finder.close()
    problems = list(finder.problems)
    problems += [f"raw tag with a handler: {m.group(0)[:80]}" for m in RAW_HANDLER.finditer(html)]
    problems += [
        f"raw script tag: {m.group(0)[:80]}"
        for m in RAW_SCRIPT.finditer(html)
        if 'src="/static/' not in m.group(0)
    ]
    assert not problems, f"{where}: {problems}"


def _page(client, url, where):
    response = client.get(url)
    assert response.status_code == 200, f"{where}: {response.status_code}"
    html = response.content.decode()
    assert_no_script(html, where)
    return html


@pytest.fixture
def dana(db):
    return factories.make_user(username="dana", role="Member")


def test_payloads_are_really_dangerous_unsanitised():
    # The checker itself must catch each payload when it is not cleaned; otherwise the tests
    # below would pass for the wrong reason.
    import markdown

    for payload in PAYLOADS:
        raw = markdown.markdown(payload, extensions=["fenced_code"])
        with pytest.raises(AssertionError):
            assert_no_script(raw + payload, "raw payload")


def test_technique_description_name_and_move_reason(alice_client, alice, dana):
    technique = factories.make_technique(
        name="<script>alert('XSS')</script> Flash \"><svg onload=alert('XSS')>",
        ring="assess", owner=dana, description=PAYLOAD_TEXT,
    )  # fmt: skip
    review = factories.make_review()
    technique.move_to("hold", by=alice, reason=PAYLOAD_TEXT, failed_constraint=PAYLOAD_TEXT[:300],
                      review=review)  # fmt: skip
    html = _page(alice_client, technique.get_absolute_url(), "technique page")
    assert "Flash" in html  # the text is still shown, only harmless
    # The server-drawn SVG radar and the table carry the name.
    _page(alice_client, reverse("radar:radar"), "radar page")
    _page(alice_client, reverse("review:review_detail", kwargs={"pk": review.pk}), "review page")
    _page(alice_client, reverse("review:review_list"), "review list")
    _page(alice_client, reverse("home"), "dashboard")
    _page(alice_client, reverse("radar:home_panel"), "dashboard radar panel")


def test_move_reason_sent_in_place_with_htmx(alice_client, dana, htmx):
    technique = factories.make_technique(name="LoRA", ring="assess", owner=dana)
    response = alice_client.post(
        reverse("radar:technique_move", kwargs={"slug": technique.slug}),
        {"to_ring": "hold", "reason": PAYLOAD_TEXT, "failed_constraint": "<script>alert('XSS')"},
        headers=htmx,
    )
    assert response.status_code == 200
    assert_no_script(response.content.decode(), "htmx move response")
    technique.refresh_from_db()
    assert technique.ring == "hold"  # the move happened: the payload was stored, and is inert


def test_review_notes(alice_client):
    review = factories.make_review(notes=PAYLOAD_TEXT)
    _page(alice_client, reverse("review:review_detail", kwargs={"pk": review.pk}), "review notes")


def test_links_with_script_urls_are_refused(bob_client, alice_client, dana):
    # Links are drawn as <a href>: a javascript: URL must never be stored.
    quadrant = factories.make_quadrant()
    response = bob_client.post(
        reverse("review:nomination_create"),
        {"name": "Ring Attention", "quadrant": quadrant.pk, "reason": "Long context",
         "links": "javascript:alert('XSS')"},
    )  # fmt: skip
    assert response.status_code in (200, 400)
    assert "links" in response.context["form"].errors
    technique = factories.make_technique(name="Medusa", ring="assess", owner=dana)
    response = alice_client.post(
        f"/api/v1/radar/techniques/{technique.slug}/move",
        {"to_ring": "trial", "reason": "Promising", "owner": "dana", "next_action": "Benchmark",
         "next_action_due": "2030-01-01", "evidence_links": ["javascript:alert('XSS')"]},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code in (400, 422)
    assert "evidence_links" in response.json()["detail"]
    _page(alice_client, reverse("review:nomination_list"), "nomination list")


def test_paper_note(bob_client, bob):
    paper = factories.make_paper(title="<img src=x onerror=alert('XSS')> Attention")
    factories.make_note(
        paper=paper, author=bob, summary=PAYLOADS[0], key_insight=PAYLOAD_TEXT,
        results=PAYLOAD_TEXT, limitations=PAYLOAD_TEXT, implementation=PAYLOAD_TEXT,
    )  # fmt: skip
    html = _page(bob_client, reverse("papers:paper_detail", kwargs={"pk": paper.pk}), "paper")
    assert "Attention" in html
    _page(bob_client, reverse("papers:paper_list"), "paper list")


def test_question_conclusion_and_its_history(bob_client, bob):
    question = factories.make_question(question="<script>alert('XSS')</script> Does it scale?")
    response = bob_client.post(
        reverse("papers:question_conclusion", kwargs={"pk": question.pk}),
        {"conclusion": PAYLOAD_TEXT, "status": "open"},
    )
    assert response.status_code in (200, 302)
    question.refresh_from_db()
    assert question.conclusion.strip() == PAYLOAD_TEXT.strip()
    # A second revision, so that the page shows what changed word by word; the evidence's
    # why and quote, and what would resolve the question.
    question.revise_conclusion(f"Revised. {PAYLOAD_TEXT}", by=bob)
    bob_client.post(
        reverse("papers:question_what_would_resolve", kwargs={"pk": question.pk}),
        {"what_would_resolve": PAYLOAD_TEXT},
    )
    question.link_paper(
        factories.make_paper(), stance="supports", rationale=PAYLOAD_TEXT, quote=PAYLOAD_TEXT
    )
    url = reverse("papers:question_detail", kwargs={"pk": question.pk})
    _page(bob_client, url, "question page with conclusion, revisions and evidence")
    _page(bob_client, reverse("papers:question_list"), "question list")


def test_experiment_hypothesis_and_learnings(bob_client, dana):
    experiment = factories.make_experiment(
        title="<svg onload=alert('XSS')>", owner=dana, hypothesis=PAYLOAD_TEXT,
        learnings=PAYLOAD_TEXT,
    )  # fmt: skip
    url = reverse("experiments:experiment_detail", kwargs={"pk": experiment.pk})
    _page(bob_client, url, "experiment page")
    _page(bob_client, reverse("experiments:experiment_list"), "experiment list")


def test_portfolio_quality_cost_names_titles_and_variants(bob_client, dana):
    # Variant names come from training jobs; titles from people: both reach the chart's JSON,
    # the front table and the left-out list.
    for number in range(3):
        experiment = factories.make_experiment(title=f"<svg onload=alert('XSS')> {number}")
        run = factories.make_run(experiment=experiment, seed=1, variant="<script>alert(1)</script>")
        run.finish(summary={"accuracy": 0.5 + number / 10, "latency_ms": 10.0 - number})
    factories.make_experiment(title="<img src=x onerror=alert('XSS')>")
    html = _page(bob_client, reverse("review:portfolio_front"), "portfolio quality-cost page")
    assert "data-scatter=" in html and 'id="left-out"' in html


def test_postmortem(bob_client, dana):
    from experiments.models import PostMortem

    experiment = factories.make_experiment(owner=dana, status="killed", learnings=PAYLOAD_TEXT)
    PostMortem.objects.create(
        experiment=experiment, author=dana, timeline=PAYLOAD_TEXT, root_cause=PAYLOAD_TEXT,
        lessons=PAYLOAD_TEXT,
    )  # fmt: skip
    url = reverse("experiments:postmortem_detail", kwargs={"pk": experiment.pk})
    _page(bob_client, url, "post-mortem")
