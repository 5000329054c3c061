"""The monthly review's agenda and minutes, built from the radar and the experiments."""

from django.template.loader import render_to_string

from experiments.review import agenda_items

from .models import Nomination, RingMove, Technique

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
    knowledge transfer, flags)."""
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
        "experiments": [
            {"key": key, "title": title, "items": experiment_items.get(key, [])}
            for key, title in EXPERIMENT_SECTIONS
        ],
    }


def minutes_markdown(review):
    """The review's minutes as Markdown: attendees, notes, decisions and the agenda it had."""
    return render_to_string(
        "radar/review_minutes.md",
        {
            "review": review,
            "agenda": build_agenda(review),
            "decided_moves": review.moves.select_related("technique", "moved_by", "superseded_by"),
            "decided_nominations": review.nominations.select_related("technique", "decided_by"),
        },
    )
