"""The monthly review: its self-building agenda, decisions taken in it, nominations, minutes."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from ..agenda import build_agenda, minutes_markdown
from ..forms import (
    AcceptForm,
    DeclineForm,
    NominationForm,
    ReviewForm,
    ReviewMoveForm,
    add_model_errors,
)
from ..models import Nomination, Review


def _get_review_for_user(request, pk):
    if not request.user.has_perm("radar.view_review"):
        raise PermissionDenied
    return get_object_or_404(Review.objects.prefetch_related("attendees"), pk=pk)


def _get_nomination_for_user(request, pk):
    if not request.user.has_perm("radar.view_nomination"):
        raise PermissionDenied
    return get_object_or_404(
        Nomination.objects.select_related("quadrant", "proposed_by", "technique"), pk=pk
    )


@permission_required("radar.view_review", raise_exception=True)
def review_list(request):
    return TemplateResponse(request, "radar/review_list.html", _review_list_context())


def _review_list_context(form=None):
    return {
        "reviews": Review.objects.prefetch_related("attendees"),
        "form": form or ReviewForm(),
        "pending_count": Nomination.objects.pending().count(),
    }


@require_POST
@permission_required("radar.add_review", raise_exception=True)
def review_create(request):
    form = ReviewForm(request.POST)
    if form.is_valid():
        review = form.save(commit=False)
        review.created_by = request.user
        review.save()
        form.save_m2m()
        return redirect(review)
    return TemplateResponse(
        request, "radar/review_list.html", _review_list_context(form), status=400
    )


def _nomination_forms(nomination, data=None, *, bound=""):
    """The accept and decline forms of one nomination; `bound` names the one given `data`."""
    return (
        AcceptForm(data if bound == "accept" else None, prefix=f"accept{nomination.pk}"),
        DeclineForm(data if bound == "decline" else None, prefix=f"decline{nomination.pk}"),
    )


def _review_context(request, review, *, move_form=None, nomination_forms=None):
    agenda = build_agenda(review)
    nomination_forms = nomination_forms or {}
    for nomination in agenda["nominations"]:
        nomination.accept_form, nomination.decline_form = nomination_forms.get(
            nomination.pk, _nomination_forms(nomination)
        )
    return {
        "review": review,
        "agenda": agenda,
        "move_form": move_form or ReviewMoveForm(),
        "decided_moves": review.moves.select_related("technique", "moved_by", "superseded_by"),
        "decided_nominations": review.nominations.select_related("technique", "decided_by"),
        "can_move": request.user.has_perm("radar.move_technique"),
        "can_decide": request.user.has_perm("radar.decide_nomination"),
    }


@permission_required("radar.view_review", raise_exception=True)
def review_detail(request, pk):
    review = _get_review_for_user(request, pk)
    return TemplateResponse(request, "radar/review_detail.html", _review_context(request, review))


def _review_response(request, review, partial, context, *, ok):
    """The review page after an action: the changed region for htmx, else a redirect on
    success or the whole page with the errors (400) on failure."""
    if ok and not request.htmx:
        return redirect(review)
    template = f"radar/review_detail.html#{partial}" if request.htmx else "radar/review_detail.html"
    return TemplateResponse(request, template, context, status=200 if ok or request.htmx else 400)


@require_POST
@permission_required("radar.move_technique", raise_exception=True)
def review_move(request, pk):
    review = _get_review_for_user(request, pk)
    form = ReviewMoveForm(request.POST)
    ok = False
    if form.is_valid():
        try:
            form.move(form.cleaned_data["technique"], by=request.user, review=review)
            ok = True
        except ValidationError as error:
            add_model_errors(form, error)
    context = _review_context(request, review, move_form=None if ok else form)
    return _review_response(request, review, "move_decided" if ok else "decisions", context, ok=ok)


def _decide_nomination(request, pk, nomination_pk, *, bound, decide):
    """Accept or decline in the review: `decide(nomination, cleaned_data, review)` does it."""
    review = _get_review_for_user(request, pk)
    nomination = _get_nomination_for_user(request, nomination_pk)
    forms = _nomination_forms(nomination, request.POST, bound=bound)
    form = forms[0] if bound == "accept" else forms[1]
    ok = False
    if form.is_valid():
        try:
            decide(nomination, form.cleaned_data, review)
            ok = True
        except ValidationError as error:
            add_model_errors(form, error)
    forms = _nomination_forms(nomination) if ok else forms
    context = _review_context(request, review, nomination_forms={nomination.pk: forms})
    nomination.accept_form, nomination.decline_form = forms
    context["nomination"] = nomination
    # A decision also changes the Decisions card, which htmx swaps out of band.
    partial = "nomination_decided" if ok else "nomination"
    return _review_response(request, review, partial, context, ok=ok)


@require_POST
@permission_required("radar.decide_nomination", raise_exception=True)
def nomination_accept(request, pk, nomination_pk):
    def accept(nomination, data, review):
        nomination.accept(**data, by=request.user, review=review)

    return _decide_nomination(request, pk, nomination_pk, bound="accept", decide=accept)


@require_POST
@permission_required("radar.decide_nomination", raise_exception=True)
def nomination_decline(request, pk, nomination_pk):
    def decline(nomination, data, review):
        nomination.decline(by=request.user, reason=data["decision_reason"], review=review)

    return _decide_nomination(request, pk, nomination_pk, bound="decline", decide=decline)


@permission_required("radar.view_review", raise_exception=True)
def review_minutes(request, pk):
    review = _get_review_for_user(request, pk)
    response = HttpResponse(minutes_markdown(review), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="review-{review.held_on:%Y-%m-%d}-minutes.md"'
    )
    return response


@permission_required("radar.view_nomination", raise_exception=True)
def nomination_list(request):
    nominations = Nomination.objects.select_related(
        "quadrant", "proposed_by", "decided_by", "technique", "review"
    )
    return TemplateResponse(request, "radar/nomination_list.html", {"nominations": nominations})


@permission_required("radar.add_nomination", raise_exception=True)
def nomination_create(request):
    form = NominationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        nomination = form.save(commit=False)
        nomination.proposed_by = request.user
        nomination.save()
        messages.success(request, f"{nomination.name} is nominated for the next review.")
        return redirect("radar:nomination_list")
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "radar/nomination_form.html", {"form": form}, status=status)
