"""Share of research effort per portfolio bucket against the target split."""

from django.db.models import Count

from experiments.models import Experiment
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
