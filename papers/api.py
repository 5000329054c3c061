"""Papers over REST for scripts: list and read papers, write one's note on a paper; research
questions, their evidence and conclusions.

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
from .models import Paper, PaperNote, Passage, QuestionLink, ResearchQuestion
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


# --- research questions ---
# Questions and their evidence for scripts, through the same model methods (and rules) as the
# question page: an answer needs a conclusion and supporting evidence, evidence needs a reason.


class RevisionOut(Schema):
    text: str
    status: ResearchQuestion.Status
    author: str | None
    created_at: datetime

    @staticmethod
    def resolve_author(revision):
        return revision.author.get_username() if revision.author else None


class EvidenceOut(Schema):
    id: int
    kind: QuestionLink.Kind = Field(
        description="paper (or passage), experiment (or run), technique"
    )
    stance: QuestionLink.Stance
    rationale: str
    quote: str
    paper_id: int | None
    passage_id: int | None
    page: int | None = Field(description="The cited passage's page in the paper's PDF")
    experiment_id: int | None
    run_id: int | None
    technique_id: int | None
    target: str = Field(description="What is cited, as the page names it")
    added_by: str | None
    created_at: datetime

    @staticmethod
    def resolve_page(evidence):
        return evidence.passage.page if evidence.passage else None

    @staticmethod
    def resolve_target(evidence):
        return str(evidence.target)

    @staticmethod
    def resolve_added_by(evidence):
        return evidence.added_by.get_username() if evidence.added_by else None


class QuestionOut(Schema):
    id: int
    question: str
    status: ResearchQuestion.Status
    conclusion: str
    what_would_resolve: str
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    evidence_count: int

    @staticmethod
    def resolve_created_by(question):
        return question.created_by.get_username() if question.created_by else None


class QuestionDetailOut(QuestionOut):
    evidence: list[EvidenceOut]
    revisions: list[RevisionOut] = Field(description="Conclusion history, newest first")

    @staticmethod
    def resolve_evidence(question):
        return question.evidence.select_related(
            "paper", "passage", "experiment", "run", "technique", "added_by"
        )

    @staticmethod
    def resolve_revisions(question):
        return question.revisions.select_related("author")


class QuestionFilters(FilterSchema):
    status: ResearchQuestion.Status | None = None


class QuestionIn(Schema):
    question: str = Field(..., min_length=1, max_length=300)
    what_would_resolve: str = Field("", max_length=20000)


class QuestionPatch(Schema):
    question: str | None = Field(None, min_length=1, max_length=300)
    what_would_resolve: str | None = Field(None, max_length=20000)


class ConclusionIn(Schema):
    conclusion: str = Field(..., max_length=20000)
    status: ResearchQuestion.Status = Field(
        ..., description="answered needs a conclusion and at least one supporting evidence"
    )


Id = Annotated[int, BeforeValidator(_strict_int), Field(ge=1)]
EVIDENCE_TARGETS = ("paper_id", "passage_id", "experiment_id", "run_id", "technique_id")


class EvidenceIn(Schema):
    paper_id: Id | None = None
    passage_id: Id | None = Field(None, description="A passage: cites its paper at that passage")
    experiment_id: Id | None = None
    run_id: Id | None = None
    technique_id: Id | None = None
    stance: QuestionLink.Stance
    rationale: str = Field(..., min_length=1, max_length=2000, description="Why it is evidence")
    quote: str = Field("", max_length=20000)


QUESTION_ERRORS = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}


def _questions():
    return ResearchQuestion.objects.with_evidence_count().select_related("created_by")


def _get_question(request, question_id, permission="papers.view_researchquestion"):
    _require(request, permission)
    return get_object_or_404(_questions(), pk=question_id)


def _evidence_target(payload):
    """The Paper, Passage, Experiment, Run or Technique the payload names; ValidationError
    naming the field when it names none, several, or an id that does not exist."""
    from experiments.models import Experiment, Run
    from radar.models import Technique

    given = [name for name in EVIDENCE_TARGETS if getattr(payload, name) is not None]
    if len(given) != 1:
        raise ValidationError(f"Give exactly one of {', '.join(EVIDENCE_TARGETS)}.")
    [name] = given
    model = {
        "paper_id": Paper,
        "passage_id": Passage,
        "experiment_id": Experiment,
        "run_id": Run,
        "technique_id": Technique,
    }[name]
    target = model.objects.filter(pk=getattr(payload, name)).first()
    if target is None:
        label = model._meta.verbose_name
        raise ValidationError({name: f"No {label} has id {getattr(payload, name)}."})
    return target


@router.get("/questions", response={200: list[QuestionOut], **QUESTION_ERRORS})
@paginate(LimitOffsetPagination)
def list_questions(request, filters: Query[QuestionFilters]):
    """Research questions by status, then most recently changed first; `limit` from
    `offset`, with the `count` of all that match."""
    _require(request, "papers.view_researchquestion")
    return filters.filter(_questions())


@router.post("/questions", response={201: QuestionDetailOut, **QUESTION_ERRORS})
def create_question(request, payload: QuestionIn):
    """Ask a question (open, with no evidence yet)."""
    _require(request, "papers.add_researchquestion")
    fields = {field: value.strip() for field, value in payload.dict().items()}
    question = ResearchQuestion(created_by=request.user, **fields)
    question.full_clean()
    question.save()
    return Status(201, _get_question(request, question.pk))


@router.get("/questions/{int:question_id}", response={200: QuestionDetailOut, **QUESTION_ERRORS})
def get_question(request, question_id: int):
    """A question with its evidence and the history of its conclusion."""
    return _get_question(request, question_id)


@router.patch("/questions/{int:question_id}", response={200: QuestionDetailOut, **QUESTION_ERRORS})
def update_question(request, question_id: int, payload: QuestionPatch):
    """Change the question's wording or what would resolve it (the conclusion and status
    change through /conclusion, which keeps their history)."""
    question = _get_question(request, question_id, "papers.change_researchquestion")
    for field, value in payload.dict(exclude_unset=True, exclude_none=True).items():
        setattr(question, field, value.strip())
    question.full_clean()
    question.save()
    return _get_question(request, question_id)


@router.put(
    "/questions/{int:question_id}/conclusion",
    response={200: QuestionDetailOut, **QUESTION_ERRORS},
)
def set_conclusion(request, question_id: int, payload: ConclusionIn):
    """Set the conclusion and status, kept as a revision. 400 when the question would be
    answered without a conclusion or without supporting evidence."""
    question = _get_question(request, question_id, "papers.change_researchquestion")
    question.revise_conclusion(payload.conclusion, by=request.user, status=payload.status)
    return _get_question(request, question_id)


@router.post(
    "/questions/{int:question_id}/evidence",
    response={200: EvidenceOut, 201: EvidenceOut, **QUESTION_ERRORS},
)
def add_evidence(request, question_id: int, payload: EvidenceIn):
    """Cite one paper, passage, experiment, run or technique with a stance and why: 201 when
    new, 200 when it was cited already (its stance, rationale and quote are replaced). 400
    naming the field when the id is unknown or not exactly one is given."""
    question = _get_question(request, question_id, "papers.add_questionlink")
    target = _evidence_target(payload)
    existed = question.evidence.filter(
        **{_evidence_field(target): target.paper if isinstance(target, Passage) else target}
    ).exists()
    evidence = question.add_evidence(
        target,
        stance=payload.stance,
        rationale=payload.rationale,
        quote=payload.quote,
        by=request.user,
    )
    return Status(200 if existed else 201, evidence)


def _evidence_field(target):
    return "paper" if isinstance(target, Paper | Passage) else target._meta.model_name


@router.delete(
    "/questions/{int:question_id}/evidence/{int:evidence_id}",
    response={204: None, **QUESTION_ERRORS},
)
def remove_evidence(request, question_id: int, evidence_id: int):
    """Remove one piece of evidence; 400 when an answered question rests on it alone."""
    question = _get_question(request, question_id, "papers.delete_questionlink")
    question.remove_evidence(get_object_or_404(question.evidence, pk=evidence_id))
    return Status(204, None)


def _passage_hit(paper, passage):
    if passage is None:
        return None
    url = f"{reverse('papers:paper_detail', args=[paper.pk])}#passage-{passage.pk}"
    return PassageHit(id=passage.pk, page=passage.page, text=passage.text, url=url)
