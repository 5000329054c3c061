"""The radar page, technique pages, ring moves and the dashboard panel."""

import datetime

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.utils import timezone
from django.views.decorators.http import require_POST

from core.forms import submit_form
from core.htmx import for_htmx, form_response

from ..drawing import draw, movement
from ..forms import MoveForm, RadarFilterForm
from ..models import Nomination, Quadrant, Review, Technique


def _get_technique_for_user(request, slug):
    if not request.user.has_perm("radar.view_technique"):
        raise PermissionDenied
    return get_object_or_404(
        Technique.objects.select_related("quadrant", "owner").prefetch_related("tags"), slug=slug
    )


@permission_required("radar.view_technique", raise_exception=True)
@for_htmx(use_partial="radar-body")
def radar(request):
    form = RadarFilterForm(request.GET)
    form.is_valid()
    review = form.value("as_of")
    if review:
        moment, baseline_review = review.covers_until, review.previous()
    else:
        moment, baseline_review = None, Review.last_before(timezone.localdate())
    techniques = Technique.objects.for_radar().as_of(
        moment, baseline_review.covers_until if baseline_review else None
    )
    if owner := form.value("owner"):
        techniques = techniques.owned_by(owner)
    if quadrant := form.value("quadrant"):
        techniques = techniques.in_quadrant(quadrant)
    if ring := form.value("ring"):
        techniques = techniques.filter(shown_ring=ring)
    if tag := form.value("tag"):
        techniques = techniques.tagged(tag.name)
    # Staleness is about today; the radar as of a past review does not know it.
    if form.value("stale") and not review:
        techniques = techniques.stale()
    entries = [
        (
            technique,
            technique.shown_ring,
            movement(technique.shown_ring, technique.baseline_ring) if baseline_review else "",
        )
        for technique in techniques
    ]
    context = {
        "form": form,
        "review": review,
        "baseline_review": baseline_review,
        "drawing": draw(entries, Quadrant.objects.all()),
        "filtered": any(form.value(name) for name in ("owner", "quadrant", "ring", "tag", "stale")),
    }
    return TemplateResponse(request, "radar/radar.html", context)


@permission_required("radar.view_technique", raise_exception=True)
def technique_detail(request, slug):
    technique = _get_technique_for_user(request, slug)
    return TemplateResponse(
        request, "radar/technique_detail.html", _technique_context(request, technique)
    )


def _technique_context(request, technique, form=None):
    return {
        "technique": technique,
        "moves": technique.moves.select_related("moved_by", "superseded_by", "review").order_by(
            "-moved_at", "-pk"
        ),
        "changes": technique.changes.select_related("changed_by", "review").order_by(
            "-changed_at", "-pk"
        ),
        "papers": technique.papers.all(),
        "form": form or MoveForm(technique=technique),
        "can_move": request.user.has_perm("radar.move_technique"),
    }


@require_POST
@permission_required("radar.move_technique", raise_exception=True)
def technique_move(request, slug):
    technique = _get_technique_for_user(request, slug)
    form = MoveForm(request.POST, technique=technique)
    moved = submit_form(form, lambda: form.move(technique, by=request.user))

    def moves_context():
        if moved:  # the card shows the technique as the move left it
            return _technique_context(request, _get_technique_for_user(request, slug))
        return _technique_context(request, technique, form)

    return form_response(
        request,
        ok=moved,
        template="radar/technique_detail.html",
        partial="moves",
        context=moves_context,
        redirect_to=technique,
    )


@permission_required("radar.view_technique", raise_exception=True)
def home_panel(request):
    today = timezone.localdate()
    context = {
        "stale_count": Technique.objects.stale().count(),
        "due": Technique.objects.active()
        .next_action_due_by(today + datetime.timedelta(days=14))
        .select_related("owner")
        .order_by("next_action_due")[:5],
        "pending_count": Nomination.objects.pending().count(),
        "last_review": Review.last_before(today),
        "today": today,
    }
    return TemplateResponse(request, "radar/_home_panel.html", context)
