"""The monthly review's agenda and minutes, built from the radar, the experiments and the
research questions."""

import datetime

from django.db.models import Prefetch
from django.template.loader import render_to_string
from django.utils import timezone

from experiments.enums import AttentionKind
from experiments.models import ActionItem, Criterion, Experiment, GateDecision, Prediction
from experiments.models.handover import missing_sections
from papers.models import ResearchQuestion
from radar.models import Nomination, RingMove, Technique

# Gates whose time-box ends within this many days after the review are on its agenda.
GATE_LOOKAHEAD_DAYS = 31

EXPERIMENT_SECTIONS = (
    ("gates_due", "Gates due"),
    ("timeboxes_expired", "Time-boxes expired"),
    ("kill_criteria_tripped", "Kill criteria tripped"),
    ("soft_kills_tripped", "Soft kill criteria tripped (to discuss)"),
    ("forecasts_due", "Forecasts due for resolution"),
    ("overdue_actions", "Overdue post-mortem action items"),
    ("knowledge_transfer_missing", "Knowledge transfer to write"),
    ("flagged", "Flagged experiments"),
    ("decisions_against_evidence", "Decisions against evidence since the last review"),
)


def build_agenda(review):
    """What `review` should discuss: moves since the previous review, stale items, pending
    nominations, deep-dive slots and the experiments' items (gates due, expired time-boxes,
    tripped hard and soft kill criteria, forecasts due, overdue post-mortem actions, unwritten
    knowledge transfer, flags) and the open research questions stale on the review's day."""
    previous = review.previous()
    since = previous.covers_until if previous else None
    experiment_items = agenda_items(previous.held_on if previous else None, review.held_on)
    return {
        "previous": previous,
        "moves": RingMove.objects.between(since, review.covers_until)
        .select_related("technique", "moved_by", "superseded_by", "review")
        .order_by("moved_at", "pk"),
        "stale": Technique.objects.stale().select_related("owner", "quadrant"),
        "nominations": Nomination.objects.pending()
        .select_related("quadrant", "proposed_by")
        .order_by("proposed_at"),
        "deep_dives": review.deep_dives.select_related(
            "presenter", "technique", "experiment", "decided_by"
        ),
        # As of the review's day, like the experiments' items: a past review's agenda keeps
        # what it had to discuss then.
        "stale_questions": ResearchQuestion.objects.stale_on(review.held_on)
        .with_last_activity()
        .order_by("last_activity", "pk"),
        "experiments": [
            {"key": key, "title": title, "items": experiment_items[key]}
            for key, title in EXPERIMENT_SECTIONS
        ],
    }


def minutes_markdown(review):
    """The review's minutes as Markdown: attendees, notes, decisions and the agenda it had."""
    return render_to_string(
        "review/review_minutes.md",
        {
            "review": review,
            "agenda": build_agenda(review),
            "decided_moves": review.moves.select_related("technique", "moved_by", "superseded_by"),
            "decided_nominations": review.nominations.select_related("technique", "decided_by"),
        },
    )


def agenda_items(since, until):
    """Experiment items for a review covering (since, until].

    Returns a dict of lists, one per key of EXPERIMENT_SECTIONS, each item a dict with at
    least "experiment" (an Experiment) and "summary" (str).
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
    expired, hard_kills_tripped = _attention_items(until)
    flagged = [
        _item(experiment, "; ".join(experiment.flags))
        for experiment in experiments.flagged_by(_end(until))
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
        "kill_criteria_tripped": hard_kills_tripped,
        "soft_kills_tripped": _soft_kills_tripped(),
        "forecasts_due": _forecasts_due(until_day),
        "overdue_actions": _overdue_actions(until_day),
        "knowledge_transfer_missing": _knowledge_transfer_missing(),
        "flagged": flagged,
    }


def _attention_items(until):
    """(time-boxes expired, hard kill criteria tripped) of the active experiments on the
    review's day, by experiment key: the attention reasons that flags and should-stop give."""
    expired, tripped = [], []
    experiments = (
        Experiment.objects.active()
        .select_related("technique")
        .prefetch_related("timeboxes", Prefetch("criteria", queryset=Criterion.objects.current()))
        .order_by("key")
    )
    for experiment in experiments:
        # At the review's first instant the local date is the review's day.
        for reason in experiment.attention_reasons(
            _start(until), criteria=experiment.criteria.all()
        ):
            if reason.kind == AttentionKind.TIMEBOX_OVER:
                expired.append(
                    _item(
                        experiment,
                        f"{experiment.get_stage_display()} time-box ended "
                        f"{experiment.timebox().deadline:%Y-%m-%d} without a gate decision",
                    )
                )
            elif reason.kind == AttentionKind.HARD_KILL:
                tripped.append(
                    {
                        "experiment": experiment,
                        "criterion": reason.criterion,
                        "summary": f"{reason} ({reason.criterion.result_detail})",
                    }
                )
    return expired, tripped


def _soft_kills_tripped():
    """Soft kill criteria do not stop a job: the review is where they are discussed. Those of
    an earlier stage were answered at that stage's gate."""
    return [
        {
            "experiment": criterion.experiment,
            "criterion": criterion,
            "summary": f"Soft kill criterion tripped: {criterion.statement}"
            + (f" ({criterion.result_detail})" if criterion.result_detail else ""),
        }
        for criterion in Criterion.objects.soft_kills()
        .current()
        .tripped()
        .of_active_experiments()
        .at_experiment_stage()
        .select_related("experiment__technique")
        .order_by("experiment__key", "id")
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
        .due_by(until_day)
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
        for item in ActionItem.objects.overdue(on=until_day).select_related(
            "owner", "postmortem__experiment__technique"
        )
    ]


def _knowledge_transfer_missing():
    """Experiments past an Integration YES whose knowledge-transfer sections are unwritten."""
    items = []
    for experiment in Experiment.objects.passed_gate("integration").select_related("technique"):
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
