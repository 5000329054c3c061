"""Research questions: list, page, linking evidence in place, conclusion with history."""

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from ..forms import ConclusionForm, QuestionLinkForm, ResearchQuestionForm
from ..models import ResearchQuestion
from .library import partial

PAGE = "papers/question_detail.html"


def _get_question_for_user(request, pk):
    if not request.user.has_perm("papers.view_researchquestion"):
        raise PermissionDenied
    return get_object_or_404(ResearchQuestion, pk=pk)


@permission_required("papers.view_researchquestion", raise_exception=True)
def question_list(request):
    form = ResearchQuestionForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("papers.add_researchquestion"):
            raise PermissionDenied
        if form.is_valid():
            question = form.save(commit=False)
            question.created_by = request.user
            question.save()
            return redirect(question)
    questions = ResearchQuestion.objects.all()
    status = 400 if form.errors else 200
    context = {"questions": questions, "form": form}
    return TemplateResponse(request, "papers/question_list.html", context, status=status)


def _question_context(question, link_form=None, conclusion_form=None):
    return {
        "question": question,
        "links": question.links.select_related("paper", "added_by"),
        "revisions": question.revisions.select_related("author"),
        "link_form": link_form or QuestionLinkForm(),
        "conclusion_form": conclusion_form
        or ConclusionForm(initial={"status": question.status, "conclusion": question.conclusion}),
    }


@permission_required("papers.view_researchquestion", raise_exception=True)
def question_detail(request, pk):
    question = _get_question_for_user(request, pk)
    return TemplateResponse(request, PAGE, _question_context(question))


@require_POST
@permission_required("papers.add_questionlink", raise_exception=True)
def question_link(request, pk):
    """Link a paper with a stance and passage; htmx swaps the evidence list in place."""
    question = _get_question_for_user(request, pk)
    form = QuestionLinkForm(request.POST)
    if form.is_valid():
        question.link_paper(
            form.cleaned_data["paper"],
            stance=form.cleaned_data["stance"],
            passage=form.cleaned_data["passage"],
            by=request.user,
        )
        if not request.htmx:
            return redirect(question)
        form = None
    status = 400 if form is not None and not request.htmx else 200
    context = _question_context(question, link_form=form)
    return TemplateResponse(request, partial(request, PAGE, "evidence"), context, status=status)


@require_POST
@permission_required("papers.delete_questionlink", raise_exception=True)
def question_unlink(request, pk, link_pk):
    question = _get_question_for_user(request, pk)
    get_object_or_404(question.links, pk=link_pk).delete()
    if not request.htmx:
        return redirect(question)
    return TemplateResponse(request, f"{PAGE}#evidence", _question_context(question))


@require_POST
@permission_required("papers.change_researchquestion", raise_exception=True)
def question_conclusion(request, pk):
    """Save the conclusion and status; every change is kept as a revision shown in history."""
    question = _get_question_for_user(request, pk)
    form = ConclusionForm(request.POST)
    if form.is_valid():
        question.revise_conclusion(
            form.cleaned_data["conclusion"], by=request.user, status=form.cleaned_data["status"]
        )
        if not request.htmx:
            return redirect(question)
        form = None
    status = 400 if form is not None and not request.htmx else 200
    context = _question_context(question, conclusion_form=form)
    return TemplateResponse(request, partial(request, PAGE, "conclusion"), context, status=status)
