"""Search pages and fragments: search-as-you-type, similar papers, question candidates,
near-duplicates and the status of the vector indexes."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from core.htmx import for_htmx

from ..embeddings import ModelWarmingUp, UnknownModel, configured_models
from ..forms import NearDuplicatesForm, SearchForm
from ..models import IndexState, Paper, QuestionLink, ResearchQuestion
from ..search import (
    SearchError,
    candidates_for_question,
    near_duplicates,
    search,
    similar_papers,
)
from ..tasks import request_rebuild


def _run_search(form, user):
    """(columns, error, warming_up): one column of results per model searched."""
    if not form.is_valid():
        errors = "; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items())
        return [], errors, False
    data = form.cleaned_data
    if not data["q"].strip():
        return [], "", False
    models = [data["model"]] + ([data["compare"]] if data["compare"] else [])
    columns = []
    try:
        for model in dict.fromkeys(models):
            results = search(
                data["q"],
                model=model,
                mode=data["mode"],
                k=data["k"],
                filters=form.filters(user),
                user=user,
            )
            columns.append({"model": model, "results": results})
    except ModelWarmingUp as error:
        return [], str(error), True
    except (SearchError, UnknownModel) as error:
        return [], str(error), False
    return columns, "", False


@permission_required("papers.view_paper", raise_exception=True)
@for_htmx(use_partial="results")
def paper_search(request):
    form = SearchForm(request.GET)
    columns, error, warming_up = _run_search(form, request.user)
    context = {
        "form": form,
        "columns": columns,
        "error": error,
        "warming_up": warming_up,
        "query": request.GET.get("q"),
    }
    if not request.htmx:  # the index states sit outside the results region
        context["states"] = _states()
    return TemplateResponse(request, "papers/search.html", context)


def _states():
    existing = {state.model: state for state in IndexState.objects.all()}
    return [existing.get(name) or IndexState(model=name) for name in configured_models()]


@permission_required("papers.view_paper", raise_exception=True)
def index_status(request):
    states = _states()
    context = {"states": states, "polling": any(state.in_progress for state in states)}
    if request.htmx and not context["polling"]:
        # The final state replaces the progress bars, and the 286 status ends htmx's polling.
        html = render_to_string("papers/_index_progress.html", context, request=request)
        return HttpResponseStopPolling(html)
    return TemplateResponse(request, "papers/_index_progress.html", context)


@require_POST
@permission_required("papers.rebuild_index", raise_exception=True)
def index_rebuild(request):
    model = request.POST.get("model", "")
    if model not in configured_models():
        messages.error(request, f"Unknown embedding model {model!r}.")
    else:
        state = request_rebuild(model)
        messages.success(request, f"Rebuilding the {model} index ({state.get_status_display()}).")
    if request.htmx:
        return index_status(request)
    return redirect("papers:search")


def _results_fragment(request, template, context, find, errors):
    """`template` with the results of `find(model)` for the `?model=` asked (or the default);
    an error among `errors` (an unknown model) is shown in place of the results."""
    try:
        results, error = find(request.GET.get("model") or None), ""
    except errors as error_:
        results, error = [], str(error_)
    return TemplateResponse(request, template, {**context, "results": results, "error": error})


@permission_required("papers.view_paper", raise_exception=True)
def paper_similar(request, pk):
    paper = get_object_or_404(Paper, pk=pk)
    return _results_fragment(
        request,
        "papers/_similar.html",
        {"paper": paper},
        lambda model: similar_papers(paper, k=5, model=model),
        UnknownModel,
    )


@permission_required("papers.view_paper", raise_exception=True)
def question_candidates(request, pk):
    question = get_object_or_404(ResearchQuestion, pk=pk)
    return _results_fragment(
        request,
        "papers/_candidates.html",
        {"question": question, "stances": QuestionLink.Stance.choices},
        lambda model: candidates_for_question(question, k=10, model=model),
        (SearchError, UnknownModel),
    )


@permission_required("papers.view_paper", raise_exception=True)
def paper_near_duplicates(request):
    form = NearDuplicatesForm(request.GET)
    pairs, threshold = [], None
    if form.is_valid():
        threshold = form.cleaned_data["threshold"] or 0.95
        pairs = near_duplicates(form.cleaned_data["model"] or None, threshold=threshold)
    context = {"form": form, "pairs": pairs, "threshold": threshold}
    return TemplateResponse(request, "papers/near_duplicates.html", context)
