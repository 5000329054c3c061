"""Papers over REST for scripts: list and read papers, write one's note on a paper.

Session authentication (the browser's login). Notes are saved through the same model
validation as the note form, so bad values give the same errors (400, one entry per field).
"""

from datetime import date, datetime
from typing import Annotated, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from ninja import Field, FilterLookup, FilterSchema, Query, Router, Schema, Status
from ninja.pagination import LimitOffsetPagination, paginate
from ninja.security import django_auth
from pydantic import BeforeValidator

from core.schemas import ErrorOut

from .embeddings import ModelWarmingUp, UnknownModel
from .models import Paper, PaperNote
from .search import MAX_K, MODES, SearchError, search

router = Router(auth=django_auth, tags=["papers"])


def _strict_int(value):
    # Pydantic's lax mode reads true as 1 and "3" as 3; a score must be sent as a number.
    if isinstance(value, bool) or isinstance(value, str):
        raise ValueError("must be a number")
    return value


Score = Annotated[int, BeforeValidator(_strict_int), Field(ge=1, le=5)]


class PaperOut(Schema):
    id: int
    title: str
    authors: list[str]
    year: int | None
    venue: str
    arxiv_id: str
    doi: str
    url: str
    bibtex_key: str
    entry_type: str
    tags: list[str]

    @staticmethod
    def resolve_tags(paper):
        return [tag.name for tag in paper.tags.all()]


class NoteOut(Schema):
    id: int
    paper_id: int
    author: str
    date_read: date
    relevance: int
    pass_reached: int
    summary: str
    production_viability: str
    red_flags: list[str]
    updated_at: datetime

    @staticmethod
    def resolve_author(note):
        return note.author.get_username()

    @staticmethod
    def resolve_red_flags(note):
        return [label for label, _comment in note.raised_flags()]


class PaperDetailOut(PaperOut):
    abstract: str
    techniques: list[str]
    notes: list[NoteOut]

    @staticmethod
    def resolve_techniques(paper):
        return [technique.name for technique in paper.techniques.all()]

    @staticmethod
    def resolve_notes(paper):
        return paper.notes.select_related("author")


class PaperFilters(FilterSchema):
    year: Annotated[int | None, FilterLookup("year"), Field(ge=1000, le=2100)] = None
    tag: str | None = Field(None, description="Tag name (any case)")
    technique: Annotated[
        int | None, FilterLookup("techniques__pk"), Field(description="radar technique id")
    ] = None

    def filter_tag(self, name):
        # An empty ?tag= means any tag, as on the papers page.
        return Q(tags__name__iexact=name) if name else Q()


class NoteIn(Schema):
    relevance: Score
    summary: str = Field(..., min_length=1, max_length=300, description="One sentence")
    pass_reached: Annotated[int, BeforeValidator(_strict_int), Field(ge=1, le=3)] = 1
    date_read: date | None = None
    time_spent_minutes: int | None = Field(None, ge=0)
    key_insight: str = ""
    results: str = ""
    limitations: str = ""
    production_viability: PaperNote.Viability | None = None
    implementation: str = ""
    red_flags: dict[str, str] = Field(
        {},
        description="Raised red flags: flag name (weak_baselines, cherry_picked, new_metrics, "
        "toy_datasets, missing_ablations, reproducibility, compute_advantage) to comment",
    )
    computational_efficiency: Score | None = None
    integration_complexity: Score | None = None
    robustness: Score | None = None
    maintainability: Score | None = None


def _require(request, permission):
    if not request.user.has_perm(permission):
        raise PermissionDenied(f"You need the {permission} permission.")


@router.get("/", response={200: list[PaperOut], 401: ErrorOut, 403: ErrorOut, 422: ErrorOut})
@paginate(LimitOffsetPagination)
def list_papers(request, filters: Query[PaperFilters]):
    """Papers, newest first, filtered by year, tag and radar technique; `limit` (50 unless
    given, at most 500) from `offset`, with the `count` of all that match."""
    _require(request, "papers.view_paper")
    # distinct: a paper with two matching tags or techniques is still one item.
    return filters.filter(Paper.objects.prefetch_related("tags")).distinct()


@router.get(
    "/{int:paper_id}",
    response={200: PaperDetailOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut},
)
def get_paper(request, paper_id: int):
    _require(request, "papers.view_paper")
    return get_object_or_404(Paper.objects.prefetch_related("tags", "techniques"), pk=paper_id)


@router.post(
    "/{int:paper_id}/notes",
    response={
        201: NoteOut,
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        404: ErrorOut,
        409: ErrorOut,
        422: ErrorOut,
    },
)
def create_note(request, paper_id: int, payload: NoteIn):
    """Write the caller's note on a paper (one note per reader per paper: 409 if one exists)."""
    _require(request, "papers.add_papernote")
    paper = get_object_or_404(Paper, pk=paper_id)
    if paper.notes.by(request.user).exists():
        return Status(409, {"detail": "You already have a note on this paper; edit it instead."})
    fields = payload.dict(exclude={"red_flags", "date_read"}, exclude_none=True)
    note = PaperNote(paper=paper, author=request.user, **fields)
    if payload.date_read:
        note.date_read = payload.date_read
    known = {field for field, _label, _help in PaperNote.RED_FLAGS}
    unknown = sorted(set(payload.red_flags) - known)
    if unknown:
        raise ValidationError({"red_flags": f"Unknown red flag(s): {', '.join(unknown)}."})
    for flag, comment in payload.red_flags.items():
        setattr(note, f"flag_{flag}", True)
        setattr(note, f"flag_{flag}_comment", comment)
    note.full_clean()
    with transaction.atomic():
        note.save()
    return Status(201, note)


# --- search ---
# (owned by the search work; hybrid search for scripts, same ranking as the web page)


class SearchParams(Schema):
    q: str = Field(..., min_length=1, max_length=1000, description="What to search for")
    mode: Literal[MODES] = "hybrid"
    model: str | None = Field(None, description="Embedding model (default: configured default)")
    k: int = Field(10, ge=1, le=MAX_K)
    year_from: int | None = Field(None, ge=1000, le=2100)
    year_to: int | None = Field(None, ge=1000, le=2100)
    tag: str | None = None
    min_relevance: int | None = Field(None, ge=1, le=5)


class PassageHit(Schema):
    id: int
    page: int = Field(..., description="1-based page of the paper's PDF")
    text: str
    url: str = Field(..., description="The passage on the paper's page")


class SearchHit(Schema):
    id: int
    title: str
    year: int | None
    authors: list[str]
    score: float
    keyword_rank: int | None
    dense_rank: int | None
    passage: PassageHit | None = Field(
        None, description="The passage of the full text that matched best, if one did"
    )


@router.get(
    "/search",
    response={
        200: list[SearchHit],
        400: ErrorOut,
        401: ErrorOut,
        403: ErrorOut,
        422: ErrorOut,
        503: ErrorOut,
    },
    summary="Search papers (hybrid keyword + embedding ranking)",
)
def search_papers(request, params: Query[SearchParams]):
    if not request.user.has_perm("papers.view_paper"):
        raise PermissionDenied("You may not read papers.")
    filters = params.dict(include={"year_from", "year_to", "tag", "min_relevance"})
    try:
        results = search(
            params.q, model=params.model, mode=params.mode, k=params.k, filters=filters
        )
    except ModelWarmingUp as error:
        return JsonResponse(
            {"detail": str(error)}, status=503, headers={"Retry-After": str(error.retry_after)}
        )
    except UnknownModel as error:
        raise ValidationError({"model": str(error)}) from error
    except SearchError as error:
        raise ValidationError(str(error)) from error
    return [
        SearchHit(
            id=r.paper.pk,
            title=r.paper.title,
            year=r.paper.year,
            authors=r.paper.authors,
            score=r.score,
            keyword_rank=r.keyword_rank,
            dense_rank=r.dense_rank,
            passage=_passage_hit(r.paper, r.passage),
        )
        for r in results
    ]


def _passage_hit(paper, passage):
    if passage is None:
        return None
    url = f"{reverse('papers:paper_detail', args=[paper.pk])}#passage-{passage.pk}"
    return PassageHit(id=passage.pk, page=passage.page, text=passage.text, url=url)
