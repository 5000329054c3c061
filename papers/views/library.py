"""The paper library: list, paper page and its links, adding and editing a paper by hand,
reading state and queue, merge, dashboard panel. The page's PDF region: views/pdf.py."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from core.forms import submit_form
from core.htmx import for_htmx, form_response

from ..forms import MergeForm, PaperFilterForm, PaperForm, PaperLinkForm, ReadingStateForm
from ..models import Paper, ReadingState, ResearchQuestion, TriageItem
from .pdf import pdf_context

PAGE_SIZE = 25


def get_paper_for_user(request, pk):
    """The paper `pk` if the user may see papers (every paper is visible to every reader)."""
    if not request.user.has_perm("papers.view_paper"):
        raise PermissionDenied
    return get_object_or_404(Paper, pk=pk)


@permission_required("papers.view_paper", raise_exception=True)
@for_htmx(use_partial="results")
def paper_list(request):
    form = PaperFilterForm(request.GET)
    papers = form.filter(Paper.objects.prefetch_related("tags")).distinct()
    page = Paginator(papers, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return TemplateResponse(request, "papers/paper_list.html", context)


def _reading_context(request, paper, form=None):
    reading = ReadingState.objects.filter(user=request.user, paper=paper).first()
    return {
        "paper": paper,
        "reading": reading,
        "reading_form": form or ReadingStateForm(instance=reading),
    }


@permission_required("papers.view_paper", raise_exception=True)
def paper_detail(request, pk):
    context = _paper_context(request, get_paper_for_user(request, pk))
    return TemplateResponse(request, "papers/paper_detail.html", context)


def _paper_context(request, paper, reading_form=None, link_form=None, **pdf_forms):
    notes = paper.notes.select_related("author")
    return {
        **_reading_context(request, paper, reading_form),
        **_links_context(request, paper, link_form),
        **pdf_context(request, paper, **pdf_forms),
        "my_note": notes.by(request.user).first(),
        "other_notes": notes.others_than(request.user),
        "red_flags": paper.red_flag_summary(),
        "question_links": paper.question_links.select_related("question"),
        "tags": paper.tags.all(),
    }


def _links_context(request, paper, form=None):
    can_link = request.user.has_perm("papers.change_paper")
    return {
        "paper": paper,
        "techniques": paper.techniques.all(),
        "experiments": paper.experiments.all(),
        "can_link": can_link,
        "link_form": form or (PaperLinkForm(paper=paper, user=request.user) if can_link else None),
    }


@permission_required("papers.add_paper", raise_exception=True)
def paper_create(request):
    form = PaperForm(request.POST or None)
    if request.method == "POST":
        paper, form = _save_paper(request, form)
        if paper:
            messages.success(request, f"Added “{paper.title}”.")
            return redirect(paper)
    return _paper_form_page(request, form)


@permission_required("papers.change_paper", raise_exception=True)
def paper_edit(request, pk):
    paper = get_paper_for_user(request, pk)
    form = PaperForm(request.POST or None, instance=paper)
    if request.method == "POST":
        saved, form = _save_paper(request, form)
        if saved:
            messages.success(request, "Saved.")
            return redirect(saved)
    return _paper_form_page(request, form, paper)


def _save_paper(request, form):
    """(the saved paper or None, the form to show)."""
    if not form.is_valid():
        return None, form
    try:
        with transaction.atomic():
            return form.save(), form
    except IntegrityError:
        # Someone saved the same identifier after our check; checking again names their paper.
        instance = Paper.objects.get(pk=form.instance.pk) if form.instance.pk else None
        form = PaperForm(request.POST, instance=instance)
        if form.is_valid():
            form.add_error(None, "Another paper was saved at the same moment; try again.")
        return None, form


def _paper_form_page(request, form, paper=None):
    status = 400 if form.is_bound and form.errors else 200
    context = {"form": form, "paper": paper}
    return TemplateResponse(request, "papers/paper_form.html", context, status=status)


@require_POST
@permission_required("papers.change_paper", raise_exception=True)
def paper_link(request, pk):
    """Link the paper to a radar technique and/or an experiment; htmx swaps the links card."""
    paper = get_paper_for_user(request, pk)
    form = PaperLinkForm(request.POST, paper=paper, user=request.user)
    if form.is_valid():
        if technique := form.cleaned_data.get("technique"):
            paper.techniques.add(technique)
        if experiment := form.cleaned_data.get("experiment"):
            paper.experiments.add(experiment)
        form = None
    return _links_response(request, paper, form)


@require_POST
@permission_required("papers.change_paper", raise_exception=True)
def paper_unlink(request, pk):
    paper = get_paper_for_user(request, pk)
    form = PaperLinkForm(request.POST, paper=paper, user=request.user, linked=True)
    # A link that is not there (someone removed it meanwhile) is already what was asked for.
    if form.is_valid():
        if technique := form.cleaned_data.get("technique"):
            paper.techniques.remove(technique)
        if experiment := form.cleaned_data.get("experiment"):
            paper.experiments.remove(experiment)
    return _links_response(request, paper, None)


def _links_response(request, paper, form):
    """The links card for htmx (errors shown in it); else back to the paper, or the page with
    the errors (400)."""
    return form_response(
        request,
        ok=form is None,
        template="papers/paper_detail.html",
        partial="links",
        context=lambda: _links_context(request, paper, form),
        page_context=lambda: _paper_context(request, paper, link_form=form),
        redirect_to=paper,
    )


@require_POST
@permission_required("papers.add_readingstate", raise_exception=True)
def paper_reading_state(request, pk):
    paper = get_paper_for_user(request, pk)
    form = ReadingStateForm(request.POST)
    ok = submit_form(
        form,
        lambda: ReadingState.record(
            user=request.user,
            paper=paper,
            state=form.cleaned_data["state"],
            dropped_reason=form.cleaned_data["dropped_reason"],
        ),
    )
    return form_response(
        request,
        ok=ok,
        template="papers/paper_detail.html",
        partial="reading_state",
        context=lambda: _reading_context(request, paper, None if ok else form),
        page_context=lambda: _paper_context(request, paper, reading_form=form),
        redirect_to=paper,
    )


@permission_required("papers.view_paper", raise_exception=True)
def reading_queue(request):
    states = ReadingState.objects.for_user(request.user).select_related("paper")
    context = {
        "queued": states.queued(),
        "finished": states.filter(state=ReadingState.State.PASS_3),
        "dropped": states.filter(state=ReadingState.State.DROPPED),
    }
    return TemplateResponse(request, "papers/reading_queue.html", context)


@permission_required("papers.delete_paper", raise_exception=True)
def paper_merge(request):
    """Confirm (GET ?keep=&merge=) and do (POST) the merge of one paper into another."""
    data = request.POST if request.method == "POST" else request.GET
    # An empty GET shows the blank preview form, not "this field is required".
    bound = "merge" in data or request.method == "POST"
    form = MergeForm(data if bound else None, initial={"keep": data.get("keep")})
    if request.method == "POST" and form.is_valid():
        keep, other = form.cleaned_data["keep"], form.cleaned_data["merge"]
        other_title = other.title
        other.merge_into(keep)
        messages.success(request, f"Merged “{other_title}” into this paper.")
        return redirect(keep)
    status = 400 if form.is_bound and form.errors else 200
    return TemplateResponse(request, "papers/paper_merge.html", {"form": form}, status=status)


@permission_required("papers.view_paper", raise_exception=True)
def home_panel(request):
    context = {
        "queue": ReadingState.objects.for_user(request.user).queued().select_related("paper")[:5],
        "open_questions": ResearchQuestion.objects.open()[:5],
        "paper_count": Paper.objects.count(),
        "untriaged_count": TriageItem.objects.untriaged().count(),
    }
    return TemplateResponse(request, "papers/_home_panel.html", context)
