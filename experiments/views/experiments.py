"""Experiment pages: the list, the form, the experiment page and its self-refreshing evidence."""

import hashlib

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django_htmx.http import HttpResponseStopPolling

from core.htmx import for_htmx

from .. import charts, curves, drift, memos, stats
from ..forms import ExperimentForm, GateDecisionForm, KnowledgeArtifactForm
from ..models import (
    Experiment,
    GateDecision,
    MetricSummary,
    Stage,
    Status,
    SupersedeProposal,
)
from ..models.criteria import BASELINE_VARIANT
from ..models.handover import handover_sections, is_required
from .common import get_experiment_for_user

PAGE = "experiments/experiment_detail.html"


@permission_required("experiments.view_experiment", raise_exception=True)
@for_htmx(use_partial="results")
def experiment_list(request):
    experiments = Experiment.objects.select_related("technique", "owner").order_by("-created_at")
    filters = {key: request.GET.get(key, "") for key in ("status", "stage", "q", "flagged")}
    if filters["status"] in Status.values:
        experiments = experiments.with_status(filters["status"])
    else:
        experiments = experiments.visible()
    if filters["stage"] in Stage.values:
        experiments = experiments.in_stage(filters["stage"])
    if filters["flagged"]:
        experiments = experiments.flagged()
    if filters["q"].strip():
        experiments = experiments.search(filters["q"].strip())
    context = {
        "experiments": experiments,
        "filters": filters,
        "statuses": Status.choices,
        "stages": Stage.choices,
    }
    return TemplateResponse(request, "experiments/experiment_list.html", context)


@permission_required("experiments.view_experiment", raise_exception=True)
def home_panel(request):
    context = {
        "flagged": Experiment.objects.flagged().select_related("technique")[:8],
        "active_count": Experiment.objects.active().count(),
        "against_evidence": GateDecision.objects.against_evidence().count(),
    }
    return TemplateResponse(request, "experiments/_home_panel.html", context)


@permission_required("experiments.add_experiment", raise_exception=True)
def experiment_create(request):
    form = ExperimentForm(request.POST or None, initial={"technique": request.GET.get("technique")})
    if request.method == "POST" and form.is_valid():
        experiment = form.save_for(request.user)
        if experiment is not None:
            return redirect(experiment)
    return TemplateResponse(
        request, "experiments/experiment_form.html", {"form": form}, status=_status(form)
    )


def experiment_edit(request, pk):
    experiment = get_experiment_for_user(request, pk, edit=True)
    form = ExperimentForm(request.POST or None, instance=experiment)
    status = None
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                form.save_for(request.user)
        except PermissionDenied as refused:
            form.add_error("stage_deadline", str(refused))
            status = 403
        except ValidationError as invalid:
            form.add_error(None, invalid)
        else:
            return redirect(experiment)
    context = {"form": form, "experiment": experiment}
    return TemplateResponse(
        request, "experiments/experiment_form.html", context, status=status or _status(form)
    )


@permission_required("experiments.view_experiment", raise_exception=True)
def experiment_detail(request, pk):
    experiment = get_experiment_for_user(request, pk)
    return TemplateResponse(request, PAGE, page_context(request, experiment))


@permission_required("experiments.view_experiment", raise_exception=True)
def experiment_evidence(request, pk):
    """The evidence region, polled by the page while new evidence can still arrive.

    New evidence changes criteria results too (the evaluation runs on ingest): when they
    differ from those the page shows, the criteria card comes along, swapped out of band, with
    the gate's flags and the reasons YES is refused (what the gate form says must follow the
    evidence). An unchanged card is left alone, so a hand check being typed into it is not
    wiped; the gate form's own fields are never swapped.
    """
    experiment = get_experiment_for_user(request, pk)
    context = {**criteria_context(request, experiment), **evidence_context(experiment, request.GET)}
    context["oob"] = request.GET.get("criteria_shown") != context["criteria_fingerprint"]
    if context["oob"] and experiment.is_active:
        context["gate_blockers"] = experiment.gate_blockers()
    # Status 286 swaps the region one last time and tells htmx to stop polling.
    status = 200 if context["listening"] else HttpResponseStopPolling.status_code
    return TemplateResponse(request, f"{PAGE}#evidence_polled", context, status=status)


def page_context(request, experiment, *, gate_form=None, gate_error=None):
    """Everything the experiment page shows; shared with the views that re-render parts."""
    return {
        "events": _history(experiment),
        "papers": experiment.papers.order_by("-year", "title"),
        **criteria_context(request, experiment),
        **gate_context(request, experiment, form=gate_form, error=gate_error),
        **evidence_context(experiment, request.GET),
        **memo_context(experiment),
    }


def gate_decided_context(request, experiment):
    """The gate region with the header and history it changed, for htmx after a decision."""
    return {
        **gate_context(request, experiment),
        "can_edit": experiment.editable_by(request.user),
        "events": _history(experiment),
        **memo_context(experiment),
    }


def _history(experiment):
    return experiment.events.select_related("actor")[:100]


def criteria_context(request, experiment, *, error=None):
    criteria = list(
        experiment.criteria.select_related("superseded_by", "checked_by").order_by(
            "stage", "kind", "id"
        )
    )
    frozen_stages = set(experiment.freezes.values_list("stage", flat=True))
    for criterion in criteria:
        criterion.frozen = criterion.stage in frozen_stages
    current = [c for c in criteria if c.is_current]
    return {
        "experiment": experiment,
        "current_criteria": current,
        # What the card shows, for the evidence poll to tell whether it is out of date.
        "criteria_fingerprint": hashlib.sha256(
            repr([(c.pk, c.result, c.observed, c.result_detail) for c in current]).encode()
        ).hexdigest()[:16],
        "superseded_criteria": [c for c in criteria if not c.is_current],
        "supersede_proposals": SupersedeProposal.objects.filter(
            criterion__experiment=experiment, status="pending"
        ).select_related("criterion", "proposed_by"),
        "can_sign": request.user.has_perm("experiments.sign_gate"),
        "can_edit": experiment.editable_by(request.user),
        "stage_frozen": experiment.stage in frozen_stages,
        "all_stages_frozen": len(frozen_stages) == len(Stage.values),
        "criteria_error": error,
    }


def gate_context(request, experiment, *, form=None, error=None):
    decisions = list(experiment.gate_decisions.select_related("decided_by"))
    open_round = experiment.open_gate_round()
    return {
        "experiment": experiment,
        "gate_decisions": decisions,
        "gate_form": form
        or GateDecisionForm(initial={"stage": experiment.stage, "round": open_round}),
        "gate_error": error,
        "gate_round": open_round,
        # From the stored evaluation; decide_gate re-evaluates before it refuses or records.
        "gate_blockers": experiment.gate_blockers() if experiment.is_active else [],
        "can_sign": request.user.has_perm("experiments.sign_gate"),
        "proposals": list(experiment.radar_proposals.select_related("decided_by")),
        "can_move_radar": request.user.has_perm("radar.move_technique"),
        "timebox": experiment.timebox(),
        **_carry_over_context(experiment),
    }


def _carry_over_context(experiment):
    runs = list(experiment.runs.exclude(stage=experiment.stage).prefetch_related("carry_overs"))
    carried = [
        run for run in runs if any(c.stage == experiment.stage for c in run.carry_overs.all())
    ]
    return {
        "carried_runs": carried,
        "earlier_runs": [run for run in runs if run not in carried],
    }


def memo_context(experiment, *, forms=None):
    """The decisions with their memos, and the knowledge-transfer sections, for the page."""
    decisions = list(
        experiment.gate_decisions.select_related("decided_by", "experiment__technique")
    )
    forms = forms or {}
    sections = [
        {
            "kind": kind.value,
            "label": label,
            "prompt": prompt,
            "artifact": artifact,
            "form": forms.get(kind.value) or KnowledgeArtifactForm(kind=kind, instance=artifact),
        }
        for kind, label, prompt, artifact in handover_sections(experiment)
    ]
    return {
        "memo_decisions": [
            (decision, [(kind, title, written[kind]) for kind, title in memos.MEMO_KINDS.items()])
            for decision in reversed(decisions)
            for written in [memos.memos(decision)]
        ],
        "handover_required": is_required(experiment),
        "handover_sections": sections,
    }


def evidence_context(experiment, params):
    """Runs, curves, statistics, strata and the quality/cost scatter for the evidence region.

    The number of queries depends on the numbers of runs and metrics, never on how many
    points were logged: the page's script fetches the curves (experiment_curves).
    """
    runs = list(experiment.runs.all())
    running = any(not run.is_finished for run in runs)
    counted, left_out = experiment.counted_runs()
    values_by_metric = experiment.run_values_by_metric(runs=counted)
    metrics = list(values_by_metric)
    watched = [c.metric for c in experiment.criteria.current().machine_checked()]
    # Curves and strata need logged points; some metrics exist only in run summaries.
    logged = MetricSummary.objects.for_runs(experiment.runs.all()).names()
    metric = charts.pick_metric(params.get("metric"), logged, watched + list(charts.QUALITY_HINTS))
    chart = curves.page_chart(experiment, metric) if metric else None
    strata = []
    if metric:
        strata = stats.stratify(
            (bucket, run.variant, value)
            for run, bucket, value in experiment.runs.bucket_values(metric)
        )
    platforms = drift.platforms(runs)
    split = params.get("split") == "platform" and len(platforms) > 1
    quality = charts.pick_metric(params.get("quality"), metrics, charts.QUALITY_HINTS)
    cost = charts.pick_metric(
        params.get("cost"), [m for m in metrics if m != quality], charts.COST_HINTS
    )
    query = params.copy()
    query.pop("criteria_shown", None)  # each poll adds the current one itself
    return {
        "experiment": experiment,
        # The page's own parameters (metric, axes), kept by each poll.
        "evidence_query": query,
        "runs": runs,
        # Runs grouped by platform when they differ in it: drift shows between the groups.
        "platform_groups": [
            (platform, [run for run in runs if run.platform == platform]) for platform in platforms
        ]
        if len(platforms) > 1
        else [],
        "split_by_platform": split,
        "left_out_runs": left_out,
        "running": running,
        # An active experiment keeps listening even with no run going: a training job may
        # start reporting at any moment while the lead has the page open.
        "listening": running or experiment.is_active,
        "metrics": metrics,
        "logged_metrics": logged,
        "metric": metric,
        "curves": chart,
        "comparisons": experiment.comparisons(values_by_metric, by_platform=split),
        "baseline_variant": BASELINE_VARIANT,
        "strata": strata,
        "quality": quality,
        "cost": cost,
        "scatter": _scatter(values_by_metric, quality, cost),
    }


def _scatter(values_by_metric, quality, cost):
    """One dot per run with both metrics; the Pareto front maximises quality, minimises cost."""
    if not quality or not cost:
        return None
    costs = {run.pk: value for run, value in values_by_metric.get(cost, [])}
    rows = [
        (run.name, run.variant, value, costs[run.pk])
        for run, value in values_by_metric.get(quality, [])
        if run.pk in costs
    ]
    return charts.quality_cost_scatter(rows, quality=quality, cost=cost)


def _status(form):
    return 400 if form.is_bound and form.errors else 200
