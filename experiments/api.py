"""What training jobs send (runs, metric batches, artifacts), the should-stop question, and
the experiment as CI reads it (stage, time-box, criteria per stage, gate decisions and memos).

Every endpoint takes an experiment token (`Authorization: Bearer <key>`) that may only touch
its own experiment. The handlers call the same model methods as the pages do.

NaN and infinite metric values are accepted either as the JSON literals NaN, Infinity and
-Infinity (what Python's json module writes) or as the strings "NaN", "Infinity" and
"-Infinity" (what strict JSON encoders can write; the Python client sends these).
"""

import math
from datetime import date, datetime
from typing import Annotated, Any, Literal, NotRequired

from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status
from ninja.security import django_auth
from pydantic import BaseModel, BeforeValidator, TypeAdapter, WithJsonSchema, model_validator
from pydantic import ValidationError as PydanticValidationError
from typing_extensions import TypedDict

from core.schemas import ErrorOut

from . import drift, memos, tasks
from .auth import ApiTokenAuth
from .enums import AcceleratorVendor, Precision, Runtime
from .models import Experiment, Run, Stage, StageFreeze
from .models.evidence import VERSION_PATTERN, IdempotencyKeyReused, RunNotRunning, as_number
from .models.tokens import ApiToken

router = Router(auth=ApiTokenAuth(), tags=["experiments"])


def _integer(value):
    # Pydantic's lax mode would take true as 1 and "12" as 12: a job sending those has a bug.
    if isinstance(value, bool | str):
        raise ValueError("must be an integer")
    return value


NON_FINITE = ("NaN", "Infinity", "-Infinity")


def _number(value):
    if isinstance(value, bool):
        raise ValueError("must be a number")
    if isinstance(value, str):
        if value not in NON_FINITE:
            raise ValueError('must be a number, or one of "NaN", "Infinity", "-Infinity"')
        return as_number(value)
    return value


def _integer_in(low, high):
    # Bounds inside the Annotated and before the validator, so OpenAPI shows them as such.
    return Annotated[int, Field(ge=low, lt=high), BeforeValidator(_integer)]


MetricValue = Annotated[
    float,
    BeforeValidator(_number),
    WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string", "enum": list(NON_FINITE)}]}),
]
FiniteNumber = Annotated[float, BeforeValidator(_number), Field(allow_inf_nan=False)]


def _choice(choices):
    """A field taking one of the model's choices (or "" for not recorded), lower-cased first:
    "NVIDIA" and "nvidia" are one vendor; anything else is refused with the list."""

    def check(value):
        if not isinstance(value, str):
            raise ValueError("must be a string")
        value = value.strip().lower()
        if value and value not in choices.values:
            raise ValueError(f"must be one of {', '.join(choices.values)} (or empty)")
        return value

    return Annotated[str, BeforeValidator(check), WithJsonSchema(
        {"type": "string", "enum": ["", *choices.values]})]  # fmt: skip


Version = Annotated[str, Field(max_length=50, pattern=f"({VERSION_PATTERN})|^$")]


class PlatformIn(Schema):
    """What the run trained on; the Python client fills these in from torch or the environment."""

    accelerator_vendor: _choice(AcceleratorVendor) = ""
    accelerator_model: str = Field(
        "", max_length=100, pattern=r"^[^\x00-\x1f\x7f]*$", description="e.g. 'H100 80GB HBM3'"
    )
    accelerator_count: _integer_in(0, 2**15) | None = None
    driver_version: Version = Field("", description="e.g. '550.54.15'")
    runtime: _choice(Runtime) = Field("", description="cuda, rocm, ...")
    runtime_version: Version = Field("", description="The CUDA or ROCm version, e.g. '12.4'")
    framework: str = Field("", max_length=50, pattern=r"^[^\x00-\x1f\x7f]*$")
    framework_version: Version = ""
    precision: _choice(Precision) = Field("", description="fp32, bf16, fp16, fp8, int8...")


class RunIn(PlatformIn):
    name: str = Field(min_length=1, max_length=200)
    variant: str = Field("candidate", min_length=1, max_length=100)
    seed: _integer_in(-(2**31), 2**31) | None = None
    params: dict[str, Any] = {}
    git_commit: str = Field("", max_length=64)
    host: str = Field("", max_length=200)
    gpu: str = Field("", max_length=200, description="GPU description, e.g. '1x A100 80GB'")
    client_key: str = Field(
        "",
        max_length=64,
        description="Chosen by the client: creating a run again with it returns the same run",
    )


class RunOut(Schema):
    id: int
    experiment: str = Field(alias="experiment.key")
    name: str
    variant: str
    seed: int | None
    client_key: str
    status: str
    params: dict[str, Any]
    git_commit: str
    host: str
    gpu: str
    accelerator_vendor: str
    accelerator_model: str
    accelerator_count: int | None
    driver_version: str
    runtime: str
    runtime_version: str
    framework: str
    framework_version: str
    precision: str
    platform: str = Field(description="Vendor, model and precision, as the pages group runs")
    summary: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None


class PointIn(TypedDict):
    """One metric point. A TypedDict, not a Schema: pydantic checks a thousand of these per
    batch in its Rust core and hands over plain dicts, several times faster than models."""

    key: Annotated[str, Field(min_length=1, max_length=100)]
    value: MetricValue
    step: _integer_in(0, 2**63)
    wall_time: NotRequired[
        Annotated[FiniteNumber | None, Field(description="Unix time in seconds")]
    ]
    bucket: NotRequired[
        Annotated[str, Field(max_length=100, description="Stratum label, e.g. 'long-inputs'")]
    ]


class _StrictPointIn(TypedDict):
    """PointIn for well-formed points only, with no validator written in Python: a thousand
    points are checked in half the time. What it refuses goes through PointIn, which takes
    the same points and the lenient forms ("NaN" strings, 3.0 for a step), or says what is
    wrong with them."""

    key: Annotated[str, Field(strict=True, min_length=1, max_length=100)]
    value: Annotated[float, Field(strict=True)]
    step: Annotated[int, Field(strict=True, ge=0, lt=2**63)]
    wall_time: NotRequired[Annotated[float, Field(strict=True, allow_inf_nan=False)] | None]
    bucket: NotRequired[Annotated[str, Field(strict=True, max_length=100)]]


class _StrictBatchIn(TypedDict):
    idempotency_key: Annotated[str, Field(strict=True, min_length=1, max_length=100)]
    points: Annotated[list[_StrictPointIn], Field(min_length=1)]


_strict_batch = TypeAdapter(_StrictBatchIn)


class BatchIn(BaseModel):
    idempotency_key: str = Field(
        min_length=1, max_length=100, description="Sending the same batch again stores nothing"
    )
    points: list[PointIn] = Field(min_length=1)

    @model_validator(mode="wrap")
    @classmethod
    def _strict_first(cls, data, handler):
        try:
            fields = _strict_batch.validate_python(data)
        except PydanticValidationError:
            return handler(data)
        return cls.model_construct(**fields)


class BatchOut(Schema):
    run: int
    idempotency_key: str
    points: int
    duplicate: bool = Field(description="True when this batch had been stored before")


class FinishIn(Schema):
    status: Literal["finished", "failed", "killed"]
    summary: dict[str, MetricValue] = Field({}, description="Final metrics of the run")


class ArtifactIn(Schema):
    uri: str = Field(
        max_length=1000,
        pattern=r"^((s3|gs|https)://[^/?#\s]+|file://[^\s]*[^/\s][^\s]*)",
        description="s3://, gs://, file:// or https://",
    )
    kind: str = Field("", max_length=50)
    size: _integer_in(0, 2**63) | None = Field(None, description="Bytes")
    sha256: str = Field("", pattern=r"^([0-9a-fA-F]{64})?$")


class ArtifactOut(Schema):
    id: int
    run: int = Field(alias="run_id")
    uri: str
    kind: str
    size: int | None
    sha256: str


class ShouldStopOut(Schema):
    stop: bool
    reasons: list[str]


class TimeboxOut(Schema):
    stage: str
    starts_on: date
    deadline: date
    expired: bool = Field(description="The deadline has passed")


class CriterionOut(Schema):
    id: int
    kind: Literal["success", "kill"]
    severity: str = Field(description="hard or soft for kill criteria, empty for success")
    statement: str
    metric: str = Field(description="Empty for a criterion checked by hand")
    check_kind: Literal["threshold", "matches_reference"] = Field(
        description="An aggregate against a threshold, or runs against a reference run step by step"
    )
    evidence: dict[str, Any] = Field(
        description="A reference check's: metric, reference and run ids, first_divergent_step"
    )
    result: Literal["pending", "holds", "does_not_hold", "insufficient"]
    label: str = Field(description="The result in the criterion's terms: met, tripped, clear...")
    observed: float | None = Field(description="The aggregated value the result rests on")
    detail: str
    evaluated_at: datetime | None


class StageCriteriaOut(Schema):
    stage: str
    frozen: bool = Field(description="A run of this stage has reported: criteria are frozen")
    success_met: bool = Field(description="The stage has success criteria and all of them hold")
    hard_kill_tripped: bool
    criteria: list[CriterionOut] = Field(description="Current (not superseded) criteria")


class MemosOut(Schema):
    executive: str
    product: str
    engineering: str


class GateDecisionOut(Schema):
    id: int
    stage: str
    round: int
    decision: Literal["yes", "no", "not_yet"]
    question: str
    conditions: str
    notes: str
    decided_by: str
    decided_at: datetime
    against_evidence: bool = Field(description="YES given with a Lead's override reason")
    override_reason: str | None
    blockers: list[str]
    memos: MemosOut = Field(description="Markdown, written from the decision's snapshot")


class ExperimentOut(Schema):
    key: str
    title: str
    technique: str
    stage: str
    status: str
    timebox: TimeboxOut | None = Field(description="The current stage's time-box")
    timeboxes: list[TimeboxOut]
    stages: list[StageCriteriaOut] = Field(description="Each stage with its criteria")
    flags: list[str]
    gate_decisions: list[GateDecisionOut]


ERRORS = {code: ErrorOut for code in (400, 401, 403, 404, 409, 422, 429)}


def _experiment_of(request, experiment_key, *, write, closed_ok=False):
    """The token's experiment, if it is the one in the URL and the token may do this."""
    refusal = request.auth.refusal_for(experiment_key, write=write, closed_ok=closed_ok)
    if refusal:
        status, message = refusal
        return None, Status(status, {"detail": message})
    return request.auth.experiment, None


@router.post(
    "/{experiment_key}/runs",
    response={200: RunOut, 201: RunOut, **ERRORS},
    summary="Create a run (or return the run already created with the same client_key)",
)
def run_create(request, experiment_key: str, payload: RunIn):
    experiment, refusal = _experiment_of(request, experiment_key, write=True, closed_ok=True)
    if refusal:
        return refusal
    if not experiment.is_active:
        # A spool replayed after the experiment closed still finds its run, to finish it.
        existing = Run.objects.for_experiment(experiment).filter(client_key=payload.client_key)
        if payload.client_key and existing.exists():
            return Status(200, existing.get())
        return Status(409, {"detail": experiment.closed_message()})
    run, created = Run.start(experiment, **payload.dict())
    return Status(201 if created else 200, run)


@router.get("/{experiment_key}/runs/{run_id}", response={200: RunOut, **ERRORS})
def run_detail(request, experiment_key: str, run_id: int):
    experiment, refusal = _experiment_of(request, experiment_key, write=False)
    if refusal:
        return refusal
    return get_object_or_404(Run.objects.for_experiment(experiment), pk=run_id)


@router.post(
    "/{experiment_key}/runs/{run_id}/metrics",
    response={200: BatchOut, 201: BatchOut, 409: ErrorOut, 413: ErrorOut, **ERRORS},
    summary="Log a batch of metric points (all stored, or none)",
)
def run_log_metrics(request, experiment_key: str, run_id: int, payload: BatchIn):
    experiment, refusal = _experiment_of(request, experiment_key, write=True)
    if refusal:
        return refusal
    limit = settings.ASSAY_API_MAX_BATCH_POINTS
    if len(payload.points) > limit:
        message = f"at most {limit} points per batch, got {len(payload.points)}"
        return Status(
            413,
            {"detail": f"points: {message}", "errors": [{"field": "points", "message": message}]},
        )
    try:
        batch, created = Run.log_points_to(
            experiment.pk, run_id, payload.points, idempotency_key=payload.idempotency_key
        )
    except Run.DoesNotExist:
        raise Http404 from None
    except RunNotRunning as error:
        # A batch already stored is still answered 200 above; a new one would change the
        # evidence of a run that has finished.
        return _run_closed(error)
    except IdempotencyKeyReused as error:
        message = error.message_dict["idempotency_key"][0]
        return Status(
            409,
            {"detail": f"idempotency_key: {message}",
             "errors": [{"field": "idempotency_key", "message": message}]},
        )  # fmt: skip
    if created:
        tasks.queue_evaluation(experiment, debounce=True)
    body = {
        "run": run_id,
        "idempotency_key": batch.idempotency_key,
        "points": batch.points,
        "duplicate": not created,
    }
    return Status(201 if created else 200, body)


def _run_closed(error):
    return Status(409, {"detail": error.messages[0], "errors": []})


@router.post(
    "/{experiment_key}/runs/{run_id}/finish",
    response={200: RunOut, 409: ErrorOut, **ERRORS},
    summary="Finish a run with its status and summary metrics",
)
def run_finish(request, experiment_key: str, run_id: int, payload: FinishIn):
    experiment, refusal = _experiment_of(request, experiment_key, write=True, closed_ok=True)
    if refusal:
        return refusal
    run = get_object_or_404(Run.objects.for_experiment(experiment), pk=run_id)
    # A job told to stop because its experiment closed still records how its run ended
    # (Run.finish answers a retried finish and refuses a different one).
    try:
        run.finish(status=payload.status, summary=payload.summary)
    except RunNotRunning as error:
        return _run_closed(error)
    tasks.queue_evaluation(experiment, debounce=False)
    return run


@router.post(
    "/{experiment_key}/runs/{run_id}/artifacts",
    response={200: ArtifactOut, 201: ArtifactOut, 409: ErrorOut, **ERRORS},
    summary="Register an artifact by reference (the bytes stay where they are)",
    description="201 when registered; 200 when this run already has the identical record "
    "(a retried or replayed call), which is returned unchanged.",
)
def run_add_artifact(request, experiment_key: str, run_id: int, payload: ArtifactIn):
    experiment, refusal = _experiment_of(request, experiment_key, write=True)
    if refusal:
        return refusal
    run = get_object_or_404(Run.objects.for_experiment(experiment), pk=run_id)
    try:
        artifact, created = run.add_artifact(**payload.dict())
    except RunNotRunning as error:
        return _run_closed(error)
    return Status(201 if created else 200, artifact)


@router.get(
    "/{experiment_key}/should-stop",
    response={200: ShouldStopOut, **ERRORS},
    summary="Whether the experiment says stop (hard kill criterion tripped, time-box over)",
)
def experiment_should_stop(request, experiment_key: str):
    experiment, refusal = _experiment_of(request, experiment_key, write=False)
    if refusal:
        return refusal
    stop, reasons = experiment.should_stop()
    return {"stop": stop, "reasons": reasons}


# A run id in a query string (text there, so not _integer's refusal of strings).
RunId = Annotated[int, Field(ge=1, lt=2**63)]


class DriftQuery(Schema):
    reference: RunId = Field(description="The run the others are compared with")
    runs: list[RunId] = Field(description="The runs compared with it (repeat the parameter)")
    metric: list[Annotated[str, Field(max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")]] = Field(
        [], description="Metrics (repeat); default: all shared ones"
    )
    abs_tol: float | None = Field(None, ge=0, allow_inf_nan=False)
    rel_tol: float | None = Field(None, ge=0, allow_inf_nan=False)
    last: int | None = Field(None, ge=1, lt=2**31, description="Only the last N steps both logged")
    width: int = Field(800, ge=100, le=4000, description="Points per difference chart")


class DriftPointOut(Schema):
    value: float
    step: int


class DriftChartOut(Schema):
    steps: list[int]
    abs: list[float | None]
    rel: list[float | None]


class DriftComparisonOut(Schema):
    metric: str
    run: int
    compared_steps: int
    only_reference: int | None = Field(description="Steps only the reference logged")
    only_run: int | None = Field(description="Steps only this run logged")
    first_step: int | None
    last_step: int | None
    first_divergent_step: int | None = Field(description="First step beyond the tolerance")
    divergent_steps: int
    max_abs: DriftPointOut | None
    max_rel: DriftPointOut | None
    within: bool | None = Field(description="Every step within tolerance; null without one")
    chart: DriftChartOut = Field(description="|difference| over steps, downsampled")


class DriftRunOut(Schema):
    id: int
    name: str
    variant: str
    seed: int | None
    platform: str
    platform_detail: str


class DriftOut(Schema):
    experiment: str
    reference: DriftRunOut
    runs: list[DriftRunOut]
    tolerance: dict[str, float | None]
    last: int | None
    metrics: list[str]
    comparisons: list[DriftComparisonOut]


@router.get(
    "/{experiment_key}/drift",
    response={200: DriftOut, **ERRORS},
    auth=[ApiTokenAuth(), django_auth],
    summary="Drift of runs from a reference run, per metric and step (hardware, precision)",
    description="A step diverges when |run - reference| > max(abs_tol, rel_tol * |reference|). "
    "An experiment token, or a signed-in session (the experiment page's drift view).",
)
def experiment_drift(request, experiment_key: str, query: Query[DriftQuery]):
    if isinstance(request.auth, ApiToken):
        experiment, refusal = _experiment_of(request, experiment_key, write=False)
        if refusal:
            return refusal
    else:
        if not request.auth.has_perm("experiments.view_experiment"):
            return Status(403, {"detail": "You may not see experiments."})
        experiment = get_object_or_404(Experiment.objects.visible(), key=experiment_key)
    try:
        return drift.report(
            experiment,
            reference=query.reference,
            runs=query.runs,
            metrics=query.metric,
            tolerance=drift.Tolerance(query.abs_tol, query.rel_tol),
            last=query.last,
            width=query.width,
        )
    except drift.DriftRequest as invalid:
        return Status(400, {"detail": str(invalid)})


@router.get(
    "/{experiment_key}",
    response={200: ExperimentOut, **ERRORS},
    summary="The experiment as CI sees it: stage, time-box, criteria per stage, flags, gates",
    description='Any token of the experiment, read-only ones too. A CI job asks "did we '
    'pass?" by reading `gate_decisions` (or `stages[].success_met` before the gate).',
)
def experiment_detail(request, experiment_key: str):
    experiment, refusal = _experiment_of(request, experiment_key, write=False)
    if refusal:
        return refusal
    today = timezone.localdate()
    timeboxes = [
        {"stage": t.stage, "starts_on": t.starts_on, "deadline": t.deadline,
         "expired": t.is_over(today)}
        for t in experiment.timeboxes.all()
    ]  # fmt: skip
    current = next((t for t in timeboxes if t["stage"] == experiment.stage), None)
    decisions = experiment.gate_decisions.select_related("decided_by", "experiment__technique")
    return {
        "key": experiment.key,
        "title": experiment.title,
        "technique": experiment.technique.name,
        "stage": experiment.stage,
        "status": experiment.status,
        "timebox": current,
        "timeboxes": timeboxes,
        "stages": _stages(experiment),
        "flags": [str(flag) for flag in experiment.flags],
        "gate_decisions": [_decision(decision) for decision in decisions],
    }


def _stages(experiment):
    criteria = list(experiment.criteria.current().order_by("kind", "id"))
    frozen = set(StageFreeze.objects.filter(experiment=experiment).values_list("stage", flat=True))
    stages = []
    for stage in Stage.values:
        own = [criterion for criterion in criteria if criterion.stage == stage]
        success = [criterion for criterion in own if criterion.kind == "success"]
        stages.append(
            {
                "stage": stage,
                "frozen": stage in frozen,
                "success_met": bool(success) and all(c.result == "holds" for c in success),
                "hard_kill_tripped": any(criterion.trips_hard_kill for criterion in own),
                "criteria": [_criterion(criterion) for criterion in own],
            }
        )
    return stages


def _criterion(criterion):
    observed = criterion.observed
    return {
        "id": criterion.pk,
        "kind": criterion.kind,
        "severity": criterion.severity,
        "statement": criterion.statement,
        "metric": criterion.metric,
        "check_kind": criterion.check_kind,
        "evidence": criterion.evidence,
        "result": criterion.result,
        "label": criterion.result_label,
        # JSON has no NaN or Infinity: an observed value that is not finite reads as null.
        "observed": observed if observed is not None and math.isfinite(observed) else None,
        "detail": criterion.result_detail,
        "evaluated_at": criterion.evaluated_at or criterion.checked_at,
    }


def _decision(decision):
    override = (decision.snapshot or {}).get("override") or {}
    return {
        "id": decision.pk,
        "stage": decision.stage,
        "round": decision.round,
        "decision": decision.decision,
        "question": decision.question,
        "conditions": decision.conditions,
        "notes": decision.notes,
        "decided_by": decision.decided_by.get_username(),
        "decided_at": decision.decided_at,
        "against_evidence": bool(override),
        "override_reason": override.get("reason"),
        "blockers": [str(blocker) for blocker in override.get("blockers", [])],
        "memos": memos.memos(decision),
    }
