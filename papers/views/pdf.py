"""A paper's PDF: upload, fetch by arXiv id or URL, extraction status (polled while the worker
reads it), extracting again, the file itself, served only to logged-in readers, and its
passages, each citable as evidence for a research question."""

from django.contrib.auth.decorators import permission_required
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils.text import slugify
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from core.forms import submit_form
from core.htmx import for_htmx, form_response
from core.uploads import set_upload_limit

from ..forms import PassageCitationForm, PdfFetchForm, PdfUploadForm
from ..models import PaperPdf, QuestionLink, ResearchQuestion

# library imports pdf_context from here; its own names are looked up when a view runs.
from . import library

PAGE = "papers/paper_detail.html"


def pdf_context(request, paper, upload_form=None, fetch_form=None):
    """The context of the paper page's PDF region."""
    pdf = PaperPdf.objects.filter(paper=paper).first()
    can_attach = request.user.has_perm("papers.change_paper")
    passages = list(_passages(paper)) if pdf else []
    return {
        "paper": paper,
        "pdf": pdf,
        "passages": passages,
        "passage_pages": len({passage.page for passage in passages}),
        **_citation_context(request, passages),
        "can_attach": can_attach,
        "upload_form": upload_form or (PdfUploadForm() if can_attach else None),
        "fetch_form": fetch_form or (PdfFetchForm(paper=paper) if can_attach else None),
    }


@permission_required("papers.view_paper", raise_exception=True)
def paper_pdf(request, pk):
    """The PDF itself, streamed from storage (the data folder or S3), inline."""
    paper = library.get_paper_for_user(request, pk)
    pdf = PaperPdf.objects.filter(paper=paper).first()
    if pdf is None or not pdf.has_file:
        raise Http404("This paper has no PDF.")
    try:
        stored = pdf.file.open("rb")
    except FileNotFoundError:
        raise Http404("The paper's PDF is missing from storage.") from None
    filename = f"{slugify(paper.title)[:80] or 'paper'}.pdf"
    response = FileResponse(stored, content_type="application/pdf", filename=filename)
    response["Cache-Control"] = "private, max-age=3600"
    return response


@permission_required("papers.view_paper", raise_exception=True)
@for_htmx(use_partial="pdf")
def paper_pdf_status(request, pk):
    """The paper page; for htmx, its PDF region, which polls this while the worker is busy."""
    paper = library.get_paper_for_user(request, pk)
    context = _page_context(request, paper)
    # htmx stops polling on 286 (and still swaps in the final state).
    done = request.htmx and not (context["pdf"] and context["pdf"].is_busy)
    status = HttpResponseStopPolling.status_code if done else 200
    return TemplateResponse(request, PAGE, context, status=status)


@csrf_exempt
@require_POST
@permission_required("papers.change_paper", raise_exception=True)
def paper_pdf_upload(request, pk):
    # A PDF may be larger than a bibliography: the limit is raised before the body is read,
    # which is why the CSRF check happens inside (see set_upload_limit).
    set_upload_limit(request, "ASSAY_PDF_MAX_BYTES")
    return _upload(request, pk)


@csrf_protect
def _upload(request, pk):
    paper = library.get_paper_for_user(request, pk)
    form = PdfUploadForm(request.POST, request.FILES)
    ok = form.is_valid()
    if ok:
        PaperPdf.attach_upload(paper=paper, upload=form.cleaned_data["file"], by=request.user)
    return _pdf_response(request, paper, ok, upload_form=None if ok else form)


@require_POST
@permission_required("papers.change_paper", raise_exception=True)
def paper_pdf_fetch(request, pk):
    paper = library.get_paper_for_user(request, pk)
    form = PdfFetchForm(request.POST, paper=paper)
    ok = form.is_valid()
    if ok:
        PaperPdf.request_fetch(
            paper=paper,
            url=form.cleaned_data["url"],
            source=form.cleaned_data["source"],
            by=request.user,
        )
    return _pdf_response(request, paper, ok, fetch_form=None if ok else form)


@require_POST
@permission_required("papers.change_paper", raise_exception=True)
def paper_pdf_extract(request, pk):
    """Read the stored PDF again (after a limit was raised, or when a worker died on it)."""
    paper = library.get_paper_for_user(request, pk)
    pdf = PaperPdf.objects.filter(paper=paper).first()
    if pdf is None or not pdf.has_file:
        raise Http404("This paper has no PDF.")
    # A PDF being read right now is left to its worker: asking twice changes nothing.
    if not pdf.is_busy or pdf.is_stuck:
        pdf.request_extraction()
    return _pdf_response(request, paper, True)


def _passages(paper):
    return paper.passages.prefetch_related("question_links__question")


def _citation_context(request, passages, cite_form=None, cite_passage=None):
    """What each passage's "Cite as evidence" form offers: the questions, read once for all
    passages (a select per passage would query them once each)."""
    can_cite = bool(passages) and request.user.has_perm("papers.add_questionlink")
    return {
        "can_cite": can_cite,
        # Questions still open come first ("partly_answered" > "open" > "answered").
        "cite_questions": list(ResearchQuestion.objects.order_by("-status", "-updated_at"))
        if can_cite
        else [],
        "stances": QuestionLink.Stance.choices,
        "cite_form": cite_form,
        "cite_passage": cite_passage,
    }


@require_POST
@permission_required("papers.add_questionlink", raise_exception=True)
def passage_cite(request, pk, passage_pk):
    """Cite one passage as evidence for the question chosen; htmx swaps the passage, which
    then names the question it supports, contradicts or frames."""
    paper = library.get_paper_for_user(request, pk)
    passage = get_object_or_404(_passages(paper), pk=passage_pk)
    form = PassageCitationForm(request.POST)
    ok = submit_form(
        form,
        lambda: form.cleaned_data["question"].add_evidence(
            passage,
            stance=form.cleaned_data["stance"],
            rationale=form.cleaned_data["rationale"],
            by=request.user,
        ),
    )
    failed = None if ok else form

    def passage_context():
        cited = get_object_or_404(_passages(paper), pk=passage_pk)  # with the new evidence
        return {
            "paper": paper,
            "passage": cited,
            **_citation_context(request, [cited], cite_form=failed, cite_passage=cited.pk),
        }

    def page_context():
        context = _page_context(request, paper)
        context.update(cite_form=failed, cite_passage=passage.pk)
        return context

    return form_response(
        request,
        ok=ok,
        template=PAGE,
        partial="passage",
        context=passage_context,
        page_context=page_context,
        redirect_to=f"{paper.get_absolute_url()}#passage-{passage.pk}",
        success_message=ok and f"Cited as evidence for “{form.cleaned_data['question']}”.",
    )


def _page_context(request, paper, **forms):
    return library._paper_context(request, paper, **forms)


def _pdf_response(request, paper, ok, **forms):
    return form_response(
        request,
        ok=ok,
        template=PAGE,
        partial="pdf",
        context=lambda: pdf_context(request, paper, **forms),
        page_context=lambda: _page_context(request, paper, **forms),
        redirect_to=paper,
    )
