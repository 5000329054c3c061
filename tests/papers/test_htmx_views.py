"""Every papers view that answers htmx, asked with and without HX-Request."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from papers.models import PaperPdf, Passage, TriageItem, Watch
from papers.pdf_builder import text_pdf
from tests.factories import make_paper, make_question, make_technique
from tests.htmx_views import HtmxView, home_panel_view, htmx_view_tests

pytestmark = pytest.mark.django_db

LINKS = '<section class="card" id="paper-links">'
EVIDENCE = '<section class="card" id="evidence">'
PDF = '<section class="card" id="paper-pdf"'


def _paper_link(user):
    paper, technique = make_paper(), make_technique()
    return "post", reverse("papers:paper_link", args=[paper.pk]), {"technique": technique.pk}


def _paper_unlink(user):
    paper, technique = make_paper(), make_technique()
    paper.techniques.add(technique)
    return "post", reverse("papers:paper_unlink", args=[paper.pk]), {"technique": technique.pk}


def _reading_state(user):
    paper = make_paper()
    return "post", reverse("papers:paper_reading_state", args=[paper.pk]), {"state": "pass_1"}


def _question_link(user):
    question, paper = make_question(), make_paper()
    url = reverse("papers:question_link", args=[question.pk])
    return "post", url, {"paper": f"#{paper.pk}", "stance": "supports", "rationale": "Table 2"}


def _question_link_work(user):
    question, technique = make_question(), make_technique()
    url = reverse("papers:question_link_work", args=[question.pk])
    return "post", url, {"technique": technique.pk, "stance": "context", "rationale": "Adopted"}


def _question_unlink(user):
    question, paper = make_question(), make_paper()
    link = question.link_paper(paper, stance="supports", rationale="Table 2")
    return "post", reverse("papers:question_unlink", args=[question.pk, link.pk]), {}


def _question_conclusion(user):
    question = make_question()
    question.link_paper(make_paper(), stance="supports", rationale="Measured past 8k tokens")
    url = reverse("papers:question_conclusion", args=[question.pk])
    return "post", url, {"status": "answered", "conclusion": "Yes, past 8k tokens."}


def _triage(user):
    watch = Watch.objects.create(name="Inbox", kind="library", query="x", created_by=user)
    paper = make_paper()
    item = TriageItem.objects.create(watch=watch, paper=paper, title=paper.title)
    return "post", reverse("papers:triage_item", args=[item.pk]), {"decision": "read_later"}


def _passage_cite(user):
    paper, question = make_paper(), make_question()
    PaperPdf.objects.create(paper=paper, state=PaperPdf.State.EXTRACTED, page_count=1)
    passage = Passage.objects.create(paper=paper, page=1, ordinal=1, text="Flat memory.")
    url = reverse("papers:passage_cite", args=[paper.pk, passage.pk])
    return "post", url, {"question": question.pk, "stance": "supports", "rationale": "p. 1"}


def _question_what_would_resolve(user):
    question = make_question()
    url = reverse("papers:question_what_would_resolve", args=[question.pk])
    return "post", url, {"what_would_resolve": "A 32k-token run on our eval set"}


def _pdf_upload(user):
    data = {"file": SimpleUploadedFile("paper.pdf", text_pdf(["A page. It is short."]))}
    return "post", reverse("papers:paper_pdf_upload", args=[make_paper().pk]), data


def _pdf_fetch(user):
    url = reverse("papers:paper_pdf_fetch", args=[make_paper().pk])
    return "post", url, {"url": "https://example.org/paper.pdf"}  # queued, never run here


def _pdf_extract(user):
    paper = make_paper()
    upload = SimpleUploadedFile("paper.pdf", text_pdf(["A page. It is short."]))
    PaperPdf.attach_upload(paper=paper, upload=upload, by=user)
    PaperPdf.objects.filter(paper=paper).update(state=PaperPdf.State.NO_TEXT)
    return "post", reverse("papers:paper_pdf_extract", args=[paper.pk]), {}


def _similar(user):
    return "get", reverse("papers:similar", args=[make_paper(title="Ring attention").pk]), {}


def _candidates(user):
    return "get", reverse("papers:question_candidates", args=[make_question().pk]), {}


VIEWS = {
    "papers:paper_list": HtmxView(
        request=lambda user: ("get", reverse("papers:paper_list"), {}),
        region='<section id="paper-results" class="card">',
    ),
    "papers:search": HtmxView(
        request=lambda user: ("get", reverse("papers:search"), {"q": "attention"}),
        region='<div class="grid">',
    ),
    "papers:paper_link": HtmxView(request=_paper_link, region=LINKS, plain="redirect"),
    "papers:paper_unlink": HtmxView(request=_paper_unlink, region=LINKS, plain="redirect"),
    "papers:paper_reading_state": HtmxView(
        request=_reading_state, region='<section class="card" id="reading-state">', plain="redirect"
    ),
    "papers:question_link": HtmxView(request=_question_link, region=EVIDENCE, plain="redirect"),
    "papers:question_link_work": HtmxView(
        request=_question_link_work, region=EVIDENCE, plain="redirect"
    ),
    "papers:question_unlink": HtmxView(request=_question_unlink, region=EVIDENCE, plain="redirect"),
    "papers:question_what_would_resolve": HtmxView(
        request=_question_what_would_resolve,
        region='<section class="card" id="resolve">',
        plain="redirect",
    ),
    "papers:question_conclusion": HtmxView(
        request=_question_conclusion,
        region='<section class="card" id="conclusion">',
        plain="redirect",
    ),
    "papers:index_rebuild": HtmxView(
        request=lambda user: ("post", reverse("papers:index_rebuild"), {"model": "bow"}),
        region='<div id="index-status"',
        plain="redirect",  # htmx: the status goes on polling, since the rebuild waits for commit
    ),
    "papers:index_status": HtmxView(
        request=lambda user: ("get", reverse("papers:index_status"), {}),
        region='<div id="index-status"',
        plain="fragment",
        htmx_status=286,
    ),
    "papers:similar": HtmxView(
        request=_similar, region='<section class="similar-papers">', plain="fragment"
    ),
    "papers:question_candidates": HtmxView(
        request=_candidates, region='<section class="question-candidates">', plain="fragment"
    ),
    "papers:triage_item": HtmxView(
        request=_triage, region='<section class="card" id="inbox">', plain="redirect"
    ),
    "papers:home_panel": home_panel_view("papers", "Papers"),
    "papers:paper_pdf_status": HtmxView(
        request=lambda user: (
            "get",
            reverse("papers:paper_pdf_status", args=[make_paper().pk]),
            {},
        ),
        region=PDF,
        htmx_status=286,  # no PDF being read: polling stops
    ),
    "papers:paper_pdf_upload": HtmxView(request=_pdf_upload, region=PDF, plain="redirect"),
    "papers:paper_pdf_fetch": HtmxView(request=_pdf_fetch, region=PDF, plain="redirect"),
    "papers:paper_pdf_extract": HtmxView(request=_pdf_extract, region=PDF, plain="redirect"),
    "papers:passage_cite": HtmxView(
        request=_passage_cite, region='<article class="passage" id="passage-', plain="redirect"
    ),
}


@pytest.fixture(autouse=True)
def _a_paper(fake_models, on_commit):
    with on_commit():
        make_paper(title="Attention is all you need")


test_the_table_lists_every_view_that_answers_htmx, test_each_view_answers_plain_and_htmx = (
    htmx_view_tests("papers", VIEWS)
)
