"""The monthly review: its self-building agenda, decisions taken in it, nominations, minutes,
and the portfolio split it checks."""

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from core.forms import submit_form
from core.htmx import form_response
from radar.models import Nomination, Review

from .agenda import build_agenda, minutes_markdown
from .forms import (
    AcceptForm,
    DeclineForm,
    DeepDiveDecisionForm,
    DeepDiveForm,
    MinutesForm,
    NominationForm,
    ReassignForm,
    ReviewForm,
    ReviewMoveForm,
)
from .portfolio import portfolio_shares, quality_cost_front

REVIEW_PAGE = "review/review_detail.html"


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
    return TemplateResponse(request, "review/review_list.html", _review_list_context())


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
        request, "review/review_list.html", _review_list_context(form), status=400
    )


def _nomination_forms(nomination, data=None, *, bound=""):
    """The accept and decline forms of one nomination; `bound` names the one given `data`."""
    return (
        AcceptForm(data if bound == "accept" else None, prefix=f"accept{nomination.pk}"),
        DeclineForm(data if bound == "decline" else None, prefix=f"decline{nomination.pk}"),
    )


def _review_context(
    request,
    review,
    *,
    move_form=None,
    nomination_forms=None,
    reassign_form=None,
    minutes_form=None,
    deep_dive_form=None,
    deep_dive_decision_forms=None,
):
    agenda = build_agenda(review)
    nomination_forms = nomination_forms or {}
    for nomination in agenda["nominations"]:
        nomination.accept_form, nomination.decline_form = nomination_forms.get(
            nomination.pk, _nomination_forms(nomination)
        )
    decision_forms = deep_dive_decision_forms or {}
    for deep_dive in agenda["deep_dives"]:
        deep_dive.decision_form = decision_forms.get(deep_dive.pk) or DeepDiveDecisionForm(
            prefix=f"dive{deep_dive.pk}", initial={"recommendation": deep_dive.recommendation}
        )
    return {
        "review": review,
        "agenda": agenda,
        "reassign_form": reassign_form or ReassignForm(),
        "minutes_form": minutes_form or MinutesForm(review=review),
        "deep_dive_form": deep_dive_form or DeepDiveForm(),
        "review_edits": review.edits.select_related("edited_by"),
        "technique_changes": review.technique_changes.select_related("technique", "changed_by"),
        "can_edit_review": request.user.has_perm("radar.change_review"),
        "move_form": move_form or ReviewMoveForm(),
        "decided_moves": review.moves.select_related("technique", "moved_by", "superseded_by"),
        "decided_nominations": review.nominations.select_related("technique", "decided_by"),
        "can_move": request.user.has_perm("radar.move_technique"),
        "can_decide": request.user.has_perm("radar.decide_nomination"),
    }


@permission_required("radar.view_review", raise_exception=True)
def review_detail(request, pk):
    review = _get_review_for_user(request, pk)
    return TemplateResponse(request, REVIEW_PAGE, _review_context(request, review))


def _review_response(request, review, *, ok, partial, context):
    """The review page after an action: for htmx the changed region, else a redirect on
    success or the whole page with the errors (400). `context` is called only if needed."""
    return form_response(
        request,
        ok=ok,
        template=REVIEW_PAGE,
        partial=partial,
        context=context,
        redirect_to=review,
    )


def _review_form_post(request, review, form, action, *, form_name, partial, partial_ok=None):
    """Submit `form` through `action` (see submit_form) and answer with the review's region
    `partial` (`partial_ok`, when given, once it worked); a form that failed is shown with its
    errors as the context's `form_name`."""
    ok = submit_form(form, action)
    return _review_response(
        request,
        review,
        ok=ok,
        partial=partial_ok if ok and partial_ok else partial,
        context=lambda: _review_context(request, review, **{form_name: None if ok else form}),
    )


@require_POST
@permission_required("radar.move_technique", raise_exception=True)
def review_move(request, pk):
    review = _get_review_for_user(request, pk)
    form = ReviewMoveForm(request.POST)
    return _review_form_post(
        request,
        review,
        form,
        lambda: form.move(form.cleaned_data["technique"], by=request.user, review=review),
        form_name="move_form",
        partial="decisions",
        partial_ok="move_decided",
    )


@require_POST
@permission_required("radar.move_technique", raise_exception=True)
def review_reassign(request, pk):
    """Change a technique's owner and next action in the review, without moving it."""
    review = _get_review_for_user(request, pk)
    form = ReassignForm(request.POST)

    def reassign():
        if form.reassign(by=request.user, review=review) is None:
            raise ValidationError("Nothing to change: give a new owner, next action or due date.")

    return _review_form_post(
        request,
        review,
        form,
        reassign,
        form_name="reassign_form",
        partial="reassign",
        partial_ok="reassigned",
    )


@require_POST
@permission_required("radar.change_review", raise_exception=True)
def review_minutes_edit(request, pk):
    """Edit the notes and attendees, also after the meeting; each edit is kept."""
    review = _get_review_for_user(request, pk)
    form = MinutesForm(request.POST, review=review)
    ok = submit_form(
        form,
        lambda: review.record_minutes(
            by=request.user,
            notes=form.cleaned_data["notes"],
            attendees=form.cleaned_data["attendees"],
        ),
    )

    def minutes_context():
        if ok:  # the region shows the minutes as recorded
            return _review_context(request, _get_review_for_user(request, pk))
        return _review_context(request, review, minutes_form=form)

    return _review_response(request, review, ok=ok, partial="minutes", context=minutes_context)


@require_POST
@permission_required("radar.change_review", raise_exception=True)
def deep_dive_add(request, pk):
    review = _get_review_for_user(request, pk)
    form = DeepDiveForm(request.POST)

    def add():
        deep_dive = form.save(commit=False)
        deep_dive.review = review
        deep_dive.full_clean()
        deep_dive.save()

    return _review_form_post(
        request, review, form, add, form_name="deep_dive_form", partial="deep_dives"
    )


@require_POST
@permission_required("radar.change_review", raise_exception=True)
def deep_dive_decide(request, pk, deep_dive_pk):
    review = _get_review_for_user(request, pk)
    deep_dive = get_object_or_404(review.deep_dives, pk=deep_dive_pk)
    form = DeepDiveDecisionForm(request.POST, prefix=f"dive{deep_dive.pk}")
    ok = submit_form(
        form,
        lambda: deep_dive.decide(
            by=request.user,
            decision=form.cleaned_data["decision"],
            recommendation=form.cleaned_data["recommendation"],
        ),
    )
    forms = {} if ok else {deep_dive.pk: form}
    return _review_response(
        request,
        review,
        ok=ok,
        partial="deep_dives",
        context=lambda: _review_context(request, review, deep_dive_decision_forms=forms),
    )


def _decide_nomination(request, pk, nomination_pk, *, bound, decide):
    """Accept or decline in the review: `decide(nomination, cleaned_data, review)` does it."""
    review = _get_review_for_user(request, pk)
    nomination = _get_nomination_for_user(request, nomination_pk)
    forms = _nomination_forms(nomination, request.POST, bound=bound)
    form = forms[0] if bound == "accept" else forms[1]
    ok = submit_form(form, lambda: decide(nomination, form.cleaned_data, review))

    def nomination_context():
        shown = _nomination_forms(nomination) if ok else forms
        context = _review_context(request, review, nomination_forms={nomination.pk: shown})
        nomination.accept_form, nomination.decline_form = shown
        context["nomination"] = nomination
        return context

    # A decision also changes the Decisions card, which htmx swaps out of band.
    return _review_response(
        request,
        review,
        ok=ok,
        partial="nomination_decided" if ok else "nomination",
        context=nomination_context,
    )


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
    return TemplateResponse(request, "review/nomination_list.html", {"nominations": nominations})


@permission_required("radar.add_nomination", raise_exception=True)
def nomination_create(request):
    form = NominationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        nomination = form.save(commit=False)
        nomination.proposed_by = request.user
        nomination.save()
        messages.success(request, f"{nomination.name} is nominated for the next review.")
        return redirect("review:nomination_list")
    status = 400 if request.method == "POST" else 200
    return TemplateResponse(request, "review/nomination_form.html", {"form": form}, status=status)


@permission_required("radar.view_technique", raise_exception=True)
def portfolio(request):
    return TemplateResponse(request, "review/portfolio.html", {"rows": portfolio_shares()})


@permission_required("experiments.view_experiment", raise_exception=True)
def portfolio_front(request):
    """Quality against cost across the portfolio; unknown metric names fall back to defaults."""
    context = quality_cost_front(
        quality=request.GET.get("quality"),
        cost=request.GET.get("cost"),
        higher_is_better=request.GET.get("better") != "lower",
    )
    return TemplateResponse(request, "review/portfolio_front.html", context)
