"""Research questions: list, page, linking evidence in place, conclusion with history."""

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from core.forms import submit_form
from core.htmx import form_response

from ..forms import ConclusionForm, QuestionLinkForm, ResearchQuestionForm
from ..models import ResearchQuestion

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

    def link():
        data = form.cleaned_data
        question.link_paper(
            data["paper"], stance=data["stance"], passage=data["passage"], by=request.user
        )

    ok = submit_form(form, link)
    return _question_response(request, question, "evidence", link_form=None if ok else form)


@require_POST
@permission_required("papers.delete_questionlink", raise_exception=True)
def question_unlink(request, pk, link_pk):
    question = _get_question_for_user(request, pk)
    get_object_or_404(question.links, pk=link_pk).delete()
    return _question_response(request, question, "evidence")


@require_POST
@permission_required("papers.change_researchquestion", raise_exception=True)
def question_conclusion(request, pk):
    """Save the conclusion and status; every change is kept as a revision shown in history."""
    question = _get_question_for_user(request, pk)
    form = ConclusionForm(request.POST)
    ok = submit_form(
        form,
        lambda: question.revise_conclusion(
            form.cleaned_data["conclusion"], by=request.user, status=form.cleaned_data["status"]
        ),
    )
    return _question_response(request, question, "conclusion", conclusion_form=None if ok else form)


def _question_response(request, question, partial, **forms):
    """Back to the question, or the card `partial` re-rendered; a form left in `forms` has
    errors to show."""
    return form_response(
        request,
        ok=all(form is None for form in forms.values()),
        template=PAGE,
        partial=partial,
        context=lambda: _question_context(question, **forms),
        redirect_to=question,
    )
