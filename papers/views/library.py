"""The paper library: list, paper page, reading state and queue, merge, dashboard panel."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from ..forms import MergeForm, PaperFilterForm, ReadingStateForm
from ..models import Paper, ReadingState, ResearchQuestion

PAGE_SIZE = 25


def get_paper_for_user(request, pk):
    """The paper `pk` if the user may see papers (every paper is visible to every reader)."""
    if not request.user.has_perm("papers.view_paper"):
        raise PermissionDenied
    return get_object_or_404(Paper, pk=pk)


def partial(request, template, name):
    return f"{template}#{name}" if request.htmx else template


@permission_required("papers.view_paper", raise_exception=True)
def paper_list(request):
    form = PaperFilterForm(request.GET)
    papers = form.filter(Paper.objects.prefetch_related("tags")).distinct()
    page = Paginator(papers, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return TemplateResponse(request, partial(request, "papers/paper_list.html", "results"), context)


def _reading_context(request, paper, form=None):
    reading = ReadingState.objects.filter(user=request.user, paper=paper).first()
    return {
        "paper": paper,
        "reading": reading,
        "reading_form": form or ReadingStateForm(instance=reading),
    }


@permission_required("papers.view_paper", raise_exception=True)
def paper_detail(request, pk):
    return _paper_page(request, get_paper_for_user(request, pk))


def _paper_page(request, paper, reading_form=None, status=200):
    notes = paper.notes.select_related("author")
    context = {
        **_reading_context(request, paper, reading_form),
        "my_note": notes.by(request.user).first(),
        "other_notes": notes.others_than(request.user),
        "red_flags": paper.red_flag_summary(),
        "question_links": paper.question_links.select_related("question"),
        "techniques": paper.techniques.all(),
        "experiments": paper.experiments.all(),
        "tags": paper.tags.all(),
    }
    return TemplateResponse(request, "papers/paper_detail.html", context, status=status)


@require_POST
@permission_required("papers.add_readingstate", raise_exception=True)
def paper_reading_state(request, pk):
    paper = get_paper_for_user(request, pk)
    form = ReadingStateForm(request.POST)
    if form.is_valid():
        ReadingState.record(
            user=request.user,
            paper=paper,
            state=form.cleaned_data["state"],
            dropped_reason=form.cleaned_data["dropped_reason"],
        )
        if not request.htmx:
            return redirect(paper)
        form = None
    elif not request.htmx:
        return _paper_page(request, paper, reading_form=form, status=400)
    context = _reading_context(request, paper, form)
    return TemplateResponse(request, "papers/paper_detail.html#reading_state", context)


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
    }
    return TemplateResponse(request, "papers/_home_panel.html", context)
