"""Research questions: the list, and the question page where the work happens: candidate
papers, evidence added in place with its stance and why, the evidence map, the conclusion with
its history, and what would resolve the question."""

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST
from django_htmx.http import trigger_client_event

from core.forms import submit_form
from core.htmx import form_response

from ..forms import (
    ConclusionForm,
    QuestionLinkForm,
    ResearchQuestionForm,
    WhatWouldResolveForm,
    WorkEvidenceForm,
)
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
    questions = ResearchQuestion.objects.with_last_activity().with_evidence_count()
    status = 400 if form.errors else 200
    context = {"questions": questions, "form": form}
    return TemplateResponse(request, "papers/question_list.html", context, status=status)


def _question_context(
    question,
    link_form=None,
    work_form=None,
    conclusion_form=None,
    resolve_form=None,
    evidence_error=None,
):
    return {
        "question": question,
        "evidence_map": question.evidence_map(),
        "evidence_error": evidence_error,
        "revisions": question.conclusion_history(),
        "link_form": link_form or QuestionLinkForm(),
        "work_form": work_form or WorkEvidenceForm(),
        "conclusion_form": conclusion_form
        or ConclusionForm(initial={"status": question.status, "conclusion": question.conclusion}),
        "resolve_form": resolve_form or WhatWouldResolveForm(instance=question),
    }


@permission_required("papers.view_researchquestion", raise_exception=True)
def question_detail(request, pk):
    question = _get_question_for_user(request, pk)
    return TemplateResponse(request, PAGE, _question_context(question))


def _add_evidence(request, question, form, form_name):
    """Cite what `form` names; htmx swaps the evidence map (and reloads the candidates)."""
    ok = submit_form(
        form,
        lambda: question.add_evidence(
            form.target(),
            stance=form.cleaned_data["stance"],
            rationale=form.cleaned_data["rationale"],
            quote=form.cleaned_data.get("quote", ""),
            by=request.user,
        ),
    )
    response = _question_response(
        request, question, "evidence", **{form_name: None if ok else form}
    )
    if ok and request.htmx:
        # The candidates list leaves out what the question cites: it loads again on this event.
        trigger_client_event(response, "evidence-added")
    return response


@require_POST
@permission_required("papers.add_questionlink", raise_exception=True)
def question_link(request, pk):
    """Cite a paper (or a passage of it) with a stance and why."""
    question = _get_question_for_user(request, pk)
    return _add_evidence(request, question, QuestionLinkForm(request.POST), "link_form")


@require_POST
@permission_required("papers.add_questionlink", raise_exception=True)
def question_link_work(request, pk):
    """Cite an experiment, a run or a technique with a stance and why."""
    question = _get_question_for_user(request, pk)
    return _add_evidence(request, question, WorkEvidenceForm(request.POST), "work_form")


@require_POST
@permission_required("papers.delete_questionlink", raise_exception=True)
def question_unlink(request, pk, link_pk):
    question = _get_question_for_user(request, pk)
    evidence = get_object_or_404(question.evidence, pk=link_pk)
    try:
        question.remove_evidence(evidence)
    except ValidationError as error:
        message = " ".join(error.messages)
        return _question_response(request, question, "evidence", evidence_error=message)
    return _question_response(request, question, "evidence")


@require_POST
@permission_required("papers.change_researchquestion", raise_exception=True)
def question_conclusion(request, pk):
    """Save the conclusion and status; every change is kept as a revision shown in history.
    An answer needs a conclusion and supporting evidence: the model says so on the form."""
    question = _get_question_for_user(request, pk)
    form = ConclusionForm(request.POST)
    ok = submit_form(
        form,
        lambda: question.revise_conclusion(
            form.cleaned_data["conclusion"], by=request.user, status=form.cleaned_data["status"]
        ),
    )
    if not ok:
        question.refresh_from_db()  # the page shows what is saved, the form what was asked
    return _question_response(request, question, "conclusion", conclusion_form=None if ok else form)


@require_POST
@permission_required("papers.change_researchquestion", raise_exception=True)
def question_what_would_resolve(request, pk):
    """Say what information would settle the question."""
    question = _get_question_for_user(request, pk)
    form = WhatWouldResolveForm(request.POST, instance=question)
    ok = form.is_valid()
    if ok:
        form.save()
    else:
        question.refresh_from_db()
    return _question_response(request, question, "resolve", resolve_form=None if ok else form)


def _question_response(request, question, partial, *, evidence_error=None, extra=None, **forms):
    """Back to the question, or the card `partial` re-rendered; a form left in `forms` has
    errors to show, and so has `evidence_error` (a refusal that concerns no form)."""

    def context():
        return {
            **_question_context(question, evidence_error=evidence_error, **forms),
            **(extra or {}),
        }

    return form_response(
        request,
        ok=evidence_error is None and all(form is None for form in forms.values()),
        template=PAGE,
        partial=partial,
        context=context,
        redirect_to=question,
        invalid_status=409 if evidence_error else 400,
    )
