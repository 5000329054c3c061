"""A paper's PDF: upload, fetch by arXiv id or URL, extraction status (polled while the worker
reads it), extracting again, and the file itself, served only to logged-in readers."""

from django.contrib.auth.decorators import permission_required
from django.http import FileResponse, Http404
from django.template.response import TemplateResponse
from django.utils.text import slugify
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from core.htmx import for_htmx, form_response
from core.uploads import set_upload_limit

from ..forms import PdfFetchForm, PdfUploadForm
from ..models import PaperPdf

# library imports pdf_context from here; its own names are looked up when a view runs.
from . import library

PAGE = "papers/paper_detail.html"


def pdf_context(request, paper, upload_form=None, fetch_form=None):
    """The context of the paper page's PDF region."""
    pdf = PaperPdf.objects.filter(paper=paper).first()
    can_attach = request.user.has_perm("papers.change_paper")
    passages = list(paper.passages.all()) if pdf else []
    return {
        "paper": paper,
        "pdf": pdf,
        "passages": passages,
        "passage_pages": len({passage.page for passage in passages}),
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
