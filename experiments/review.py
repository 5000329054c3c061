"""What the experiments side contributes to the monthly review agenda."""

import datetime

from django.utils import timezone

from .models import Criterion, Experiment, GateDecision

# Gates whose time-box ends within this many days after the review are on its agenda.
GATE_LOOKAHEAD_DAYS = 31


def agenda_items(since, until):
    """Experiment items for a review covering (since, until].

    Returns a dict of lists: "gates_due", "timeboxes_expired", "kill_criteria_tripped",
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
        "flagged": flagged,
    }


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
