"""What the experiments side contributes to the monthly review agenda."""

import datetime

from django.db.models import F
from django.utils import timezone

from .models import ActionItem, Criterion, Experiment, GateDecision, Prediction
from .models.handover import missing_sections

# Gates whose time-box ends within this many days after the review are on its agenda.
GATE_LOOKAHEAD_DAYS = 31


def agenda_items(since, until):
    """Experiment items for a review covering (since, until].

    Returns a dict of lists: "gates_due", "timeboxes_expired", "kill_criteria_tripped",
    "soft_kills_tripped", "forecasts_due", "overdue_actions", "knowledge_transfer_missing",
    "flagged", "decisions_against_evidence" — each item a dict with at least "experiment" (an
    Experiment) and "summary" (str).
    `since` and `until` are dates or datetimes; the state read is the latest evaluation.
    """
    until_day = _day(until)
    experiments = Experiment.objects.select_related("technique").prefetch_related("timeboxes")
    gates_due = [
        _item(
            experiment,
            f"{experiment.get_stage_display()} gate due {experiment.timebox().deadline:%Y-%m-%d}: "
            f"{experiment.gate_question}",
        )
        for experiment in experiments.timebox_ending_between(
            until_day, until_day + datetime.timedelta(days=GATE_LOOKAHEAD_DAYS)
        ).distinct()
    ]
    expired = [
        _item(
            experiment,
            f"{experiment.get_stage_display()} time-box ended "
            f"{experiment.timebox().deadline:%Y-%m-%d} without a gate decision",
        )
        for experiment in experiments.timebox_expired(on=until_day).distinct()
    ]
    tripped = [
        {
            "experiment": criterion.experiment,
            "criterion": criterion,
            "summary": (
                f"Hard kill criterion tripped: {criterion.statement} ({criterion.result_detail})"
            ),
        }
        for criterion in Criterion.objects.current()
        .hard_kills()
        .tripped()
        .filter(experiment__status="active")
        # A kill tripped in an earlier stage was answered at that stage's gate.
        .filter(stage=F("experiment__stage"))
        .select_related("experiment__technique")
    ]
    flagged = [
        _item(experiment, "; ".join(experiment.flags))
        for experiment in experiments.flagged().filter(flagged_since__lte=_end(until))
    ]
    # Inclusive of the previous review's day: better discussed twice than missed.
    against_evidence = [
        _item(
            decision.experiment,
            f"{decision.get_stage_display()} gate passed YES against the evidence by "
            f"{decision.decided_by} on {decision.decided_at:%Y-%m-%d}: {decision.override_reason}"
            f" (overridden: {'; '.join(decision.snapshot['override']['blockers'])})",
        )
        for decision in GateDecision.objects.against_evidence()
        .decided_between(_start(since) if since else None, _end(until))
        .select_related("experiment__technique", "decided_by")
    ]
    return {
        "decisions_against_evidence": against_evidence,
        "gates_due": gates_due,
        "timeboxes_expired": expired,
        "kill_criteria_tripped": tripped,
        "soft_kills_tripped": _soft_kills_tripped(),
        "forecasts_due": _forecasts_due(until_day),
        "overdue_actions": _overdue_actions(until_day),
        "knowledge_transfer_missing": _knowledge_transfer_missing(),
        "flagged": flagged,
    }


def _soft_kills_tripped():
    """Soft kill criteria do not stop a job: the review is where they are discussed."""
    return [
        {
            "experiment": criterion.experiment,
            "criterion": criterion,
            "summary": f"Soft kill criterion tripped: {criterion.statement}"
            + (f" ({criterion.result_detail})" if criterion.result_detail else ""),
        }
        for criterion in Criterion.objects.current()
        .kills()
        .filter(severity="soft", result="holds", experiment__status="active")
        .filter(stage=F("experiment__stage"))
        .select_related("experiment__technique")
    ]


def _forecasts_due(until_day):
    """Open predictions whose resolve-by date has come by the review."""
    return [
        {
            "experiment": prediction.experiment,
            "prediction": prediction,
            "summary": f"Forecast due for resolution since {prediction.resolve_by:%Y-%m-%d}: "
            f"{prediction.statement}",
        }
        for prediction in Prediction.objects.open()
        .filter(resolve_by__lte=until_day)
        .select_related("experiment__technique")
    ]


def _overdue_actions(until_day):
    """Post-mortem action items not done by their due date."""
    return [
        {
            "experiment": item.postmortem.experiment,
            "action_item": item,
            "summary": f"Post-mortem action overdue since {item.due_on:%Y-%m-%d} "
            f"({item.owner.get_username()}): {item.description}",
        }
        for item in ActionItem.objects.filter(done=False, due_on__lt=until_day).select_related(
            "owner", "postmortem__experiment__technique"
        )
    ]


def _knowledge_transfer_missing():
    """Experiments past an Integration YES whose knowledge-transfer sections are unwritten."""
    passed = Experiment.objects.filter(
        pk__in=GateDecision.objects.filter(stage="integration", decision="yes").values("experiment")
    ).select_related("technique")
    items = []
    for experiment in passed:
        if missing := missing_sections(experiment):
            items.append(
                _item(experiment, f"Knowledge transfer still to write: {', '.join(missing)}")
            )
    return items


def _item(experiment, summary):
    return {"experiment": experiment, "summary": summary}


def _day(value):
    if isinstance(value, datetime.datetime):
        return timezone.localdate(value) if timezone.is_aware(value) else value.date()
    return value


def _start(value):
    """The first instant of the period's first day as an aware datetime."""
    if isinstance(value, datetime.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    return timezone.make_aware(datetime.datetime.combine(value, datetime.time()))


def _end(value):
    """The last instant of the period as an aware datetime."""
    if isinstance(value, datetime.datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value)
    return timezone.make_aware(
        datetime.datetime.combine(value + datetime.timedelta(days=1), datetime.time())
    )
