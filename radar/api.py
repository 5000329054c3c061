"""The radar over REST for scripts: list techniques, read one with its moves, move one.

Session authentication (the browser's login). Moving calls the same `Technique.move_to` as
the pages, so the same rules give the same errors (400 with one entry per field).
"""

from datetime import date, datetime

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema
from ninja.security import django_auth

from core.schemas import ErrorOut

from .models import Ring, Technique

router = Router(auth=django_auth, tags=["radar"])


class TechniqueOut(Schema):
    slug: str
    name: str
    quadrant: str
    ring: Ring
    owner: str | None
    next_action: str
    next_action_due: date | None
    portfolio_bucket: str
    tags: list[str]
    description: str = Field(description="Markdown")
    updated_at: datetime

    @staticmethod
    def resolve_quadrant(technique):
        return technique.quadrant.name

    @staticmethod
    def resolve_owner(technique):
        return technique.owner.get_username() if technique.owner else None

    @staticmethod
    def resolve_tags(technique):
        return [tag.name for tag in technique.tags.all()]


class MoveOut(Schema):
    from_ring: Ring | None
    to_ring: Ring
    moved_by: str
    moved_at: datetime
    reason: str
    superseded_by: str | None = Field(description="slug of the superseding technique")
    failed_constraint: str
    evidence_links: list[str]
    review: date | None = Field(description="date of the review that decided it")

    @staticmethod
    def resolve_from_ring(move):
        return move.from_ring or None

    @staticmethod
    def resolve_moved_by(move):
        return move.moved_by.get_username()

    @staticmethod
    def resolve_superseded_by(move):
        return move.superseded_by.slug if move.superseded_by else None

    @staticmethod
    def resolve_review(move):
        return move.review.held_on if move.review else None


class TechniqueDetailOut(TechniqueOut):
    moves: list[MoveOut]

    @staticmethod
    def resolve_moves(technique):
        return technique.moves.select_related("moved_by", "superseded_by", "review")


class MoveIn(Schema):
    to_ring: Ring
    reason: str = Field("", description="Why it moves (required by the rules)")
    superseded_by: str | None = Field(None, description="slug; HOLD/SKIP need this or a constraint")
    failed_constraint: str = Field("", max_length=300)
    evidence_links: list[str] = []
    owner: str | None = Field(None, description="username; TRIAL/ASSESS need an owner")
    next_action: str | None = Field(None, max_length=300)
    next_action_due: date | None = None


def _require(request, permission):
    if not request.user.has_perm(permission):
        raise PermissionDenied(f"You need the {permission} permission.")


def _techniques():
    return Technique.objects.select_related("quadrant", "owner").prefetch_related("tags")


@router.get(
    "/techniques",
    response={200: list[TechniqueOut], 401: ErrorOut, 403: ErrorOut, 422: ErrorOut},
    summary="List techniques",
)
def list_techniques(
    request, ring: Ring | None = None, quadrant: str | None = None, stale: bool = False
):
    _require(request, "radar.view_technique")
    techniques = _techniques()
    if ring:
        techniques = techniques.in_ring(ring)
    if quadrant:
        techniques = techniques.filter(quadrant__name__iexact=quadrant)
    if stale:
        techniques = techniques.stale()
    return list(techniques)


@router.get(
    "/techniques/{slug}",
    response={200: TechniqueDetailOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="One technique with its ring moves",
)
def get_technique(request, slug: str):
    _require(request, "radar.view_technique")
    return get_object_or_404(_techniques(), slug=slug)


@router.post(
    "/techniques/{slug}/move",
    response={
        200: TechniqueDetailOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        422: ErrorOut,
    },
    summary="Move a technique to another ring (Leads)",
)
def move_technique(request, slug: str, payload: MoveIn):
    _require(request, "radar.move_technique")
    technique = get_object_or_404(_techniques(), slug=slug)
    superseded_by = owner = None
    if payload.superseded_by:
        superseded_by = Technique.objects.filter(slug=payload.superseded_by).first()
        if superseded_by is None:
            raise ValidationError({"superseded_by": f"No technique {payload.superseded_by!r}."})
    if payload.owner:
        owner = get_user_model().objects.filter(username=payload.owner, is_active=True).first()
        if owner is None:
            raise ValidationError({"owner": f"No user {payload.owner!r}."})
    technique.move_to(
        payload.to_ring,
        by=request.user,
        reason=payload.reason,
        superseded_by=superseded_by,
        failed_constraint=payload.failed_constraint,
        evidence_links=payload.evidence_links,
        owner=owner,
        next_action=payload.next_action,
        next_action_due=payload.next_action_due,
    )
    return get_object_or_404(_techniques(), slug=slug)
