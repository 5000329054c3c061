"""The portfolio: share of research effort per bucket against the target split, and quality
against cost across every experiment's variants."""

import math
from dataclasses import dataclass

from django.db.models import Count
from django.template.defaultfilters import pluralize

from experiments import charts, stats
from experiments.enums import RunStatus
from experiments.models import Experiment, Run
from radar.models import PORTFOLIO_TARGETS, PortfolioBucket, Technique


def _shares(label, counts_by_bucket):
    total = sum(counts_by_bucket.values())
    buckets = []
    for bucket in PortfolioBucket:
        low, high = PORTFOLIO_TARGETS[bucket]
        count = counts_by_bucket.get(bucket.value, 0)
        share = 100 * count / total if total else 0
        if not total:
            status = ""
        elif share < low:
            status = "under"
        elif share > high:
            status = "over"
        else:
            status = "ok"
        buckets.append(
            {
                "bucket": bucket,
                "label": bucket.label,
                "count": count,
                "share": round(share, 1),
                "low": low,
                "high": high,
                "target_span": high - low,
                "status": status,
            }
        )
    warnings = [
        f"{item['label']} is {item['share']:g}% of {label.lower()}, "
        f"{'below' if item['status'] == 'under' else 'above'} the "
        f"{item['low']}–{item['high']}% target."
        for item in buckets
        if item["status"] in ("under", "over")
    ]
    return {"label": label, "total": total, "buckets": buckets, "warnings": warnings}


def _counts(queryset):
    rows = queryset.order_by().values("portfolio_bucket").annotate(count=Count("pk"))
    return {row["portfolio_bucket"]: row["count"] for row in rows}


def portfolio_shares():
    """Rows for active techniques and active experiments: per bucket the count, the share in
    percent, the target band and whether it is off."""
    return [
        _shares("Active techniques", _counts(Technique.objects.active())),
        _shares("Active experiments", _counts(Experiment.objects.active())),
    ]


@dataclass(frozen=True)
class VariantPoint:
    """One variant of one experiment: its mean quality and cost over the seeds that report both."""

    experiment: Experiment
    variant: str
    quality: float
    cost: float
    seeds: int
    on_front: bool

    @property
    def label(self):
        return f"{self.experiment.key} · {self.variant} ({self.seeds} seed{pluralize(self.seeds)})"


def quality_cost_front(*, quality=None, cost=None, higher_is_better=True):
    """The quality-versus-cost plot across the portfolio: one point per experiment's variant.

    The metrics offered are those that runs of at least two experiments report (a portfolio
    front of one experiment is that experiment's page); `quality` and `cost` fall back to
    metrics whose names suggest them. Each experiment contributes the runs of its latest
    stage with finished runs (Run.objects.latest_stage_evidence). Experiments without a
    value of both metrics are left out, each with the reason. Four queries however many
    experiments there are.
    """
    experiments = {e.pk: e for e in Experiment.objects.visible().order_by("key")}
    runs = Run.objects.filter(experiment__in=Experiment.objects.visible())
    evidence = runs.latest_stage_evidence()
    counted = [run for _, stage_runs in evidence.values() for run in stage_runs]
    values = runs.filter(status=RunStatus.FINISHED).values_by_metric(among=counted)
    reporting = {
        metric: {run.experiment_id for run, value in pairs if math.isfinite(value)}
        for metric, pairs in values.items()
    }
    metrics = sorted(metric for metric, ids in reporting.items() if len(ids) >= 2)
    quality = charts.pick_metric(quality, metrics, charts.QUALITY_HINTS)
    cost = charts.pick_metric(cost, [m for m in metrics if m != quality], charts.COST_HINTS)
    result = {
        "metrics": metrics,
        "quality": quality,
        "cost": cost,
        "higher_is_better": higher_is_better,
        "points": [],
        "front": [],
        "left_out": [],
        "chart": None,
    }
    if not quality or not cost:
        return result
    costs = {run.pk: value for run, value in values[cost]}
    qualities = {run.pk: value for run, value in values[quality]}
    rows = [
        ((run.experiment_id, run.variant), qualities.get(run.pk), costs.get(run.pk))
        for run in counted
    ]
    means = stats.means_by_group(rows)
    shown = {experiment_id for experiment_id, _ in means}
    result["left_out"] = [
        (experiment, _why_left_out(experiment, evidence, reporting, quality, cost))
        for experiment in experiments.values()
        if experiment.pk not in shown
    ]
    keys = sorted(means, key=lambda key: (experiments[key[0]].key, key[1]))
    front = set(
        stats.pareto_front([means[key][:2] for key in keys], maximise_quality=higher_is_better)
    )
    points = [
        VariantPoint(experiments[key[0]], key[1], *means[key], on_front=index in front)
        for index, key in enumerate(keys)
    ]
    result["points"] = points
    # Best quality first: the front read as a menu from "best" to "cheapest".
    result["front"] = sorted(
        (point for point in points if point.on_front),
        key=lambda point: (-point.quality if higher_is_better else point.quality, point.cost),
    )
    result["chart"] = charts.quality_cost_scatter(
        [(point.label, point.experiment.key, point.quality, point.cost) for point in points],
        quality=quality,
        cost=cost,
        higher_is_better=higher_is_better,
        dim_dominated=True,
    )
    return result


def _why_left_out(experiment, evidence, reporting, quality, cost):
    if experiment.pk not in evidence:
        return "no finished runs"
    missing = [name for name in (cost, quality) if experiment.pk not in reporting.get(name, ())]
    if missing:
        return f"no {' and no '.join(missing)} reported"
    return f"no run reports both {quality} and {cost}"
