"""The experiments' part of the monthly review agenda."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from review.agenda import agenda_items, build_agenda
from tests.factories import make_criterion, make_experiment, make_review, report_run

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


def test_review_agenda_lists_what_needs_a_decision(alice):
    due = make_experiment(title="Due soon")
    due.set_timebox("discovery", starts_on=TODAY - 5 * DAY, deadline=TODAY + 10 * DAY)
    expired = make_experiment(title="Overrun")
    expired.set_timebox("discovery", starts_on=TODAY - 30 * DAY, deadline=TODAY - 2 * DAY)
    killing = make_experiment(title="Regressing")
    criterion = make_criterion(experiment=killing, kind="kill", severity="hard", comparator="lt")
    report_run(experiment=killing, values={"accuracy": 0.1})
    for experiment in (due, expired, killing):
        experiment.evaluate()

    agenda = agenda_items(TODAY - 30 * DAY, TODAY)

    assert [item["experiment"] for item in agenda["gates_due"]] == [due]
    assert "Should we invest more time in this?" in agenda["gates_due"][0]["summary"]
    assert [item["experiment"] for item in agenda["timeboxes_expired"]] == [expired]
    [tripped] = agenda["kill_criteria_tripped"]
    assert tripped["experiment"] == killing and criterion.statement in tripped["summary"]
    assert {item["experiment"] for item in agenda["flagged"]} == {expired, killing}


def test_a_decision_against_the_evidence_is_on_the_agenda(alice):
    experiment = make_experiment(title="MTP at 7B")
    make_criterion(experiment=experiment, threshold=0.8)
    report_run(experiment=experiment, values={"accuracy": 0.3})
    experiment.decide_gate("yes", by=alice, override_reason="the 7B run decides, not the 1B")

    items = agenda_items(TODAY - 30 * DAY, TODAY)
    [item] = items["decisions_against_evidence"]
    assert item["experiment"] == experiment and "the 7B run decides" in item["summary"]
    agenda = build_agenda(make_review(held_on=TODAY))
    section = next(s for s in agenda["experiments"] if s["key"] == "decisions_against_evidence")
    assert section["title"] == "Decisions against evidence since the last review"
    assert len(section["items"]) == 1


def _needing_attention(key):
    """An active experiment with its time-box over and a hard and a soft kill tripped."""
    experiment = make_experiment(key=key)
    experiment.set_timebox("discovery", starts_on=TODAY - 30 * DAY, deadline=TODAY - 2 * DAY)
    for severity in ("hard", "soft"):
        make_criterion(experiment=experiment, kind="kill", severity=severity, comparator="lt")
    report_run(experiment=experiment, values={"accuracy": 0.1})
    experiment.evaluate()
    return experiment


def test_attention_items_come_by_experiment_key():
    later, earlier = _needing_attention("EXP-B"), _needing_attention("EXP-A")
    agenda = agenda_items(TODAY - 30 * DAY, TODAY)
    for key in ("timeboxes_expired", "kill_criteria_tripped", "soft_kills_tripped"):
        assert [item["experiment"] for item in agenda[key]] == [earlier, later], key


def test_a_time_box_is_expired_as_of_the_review_day_not_today():
    _needing_attention("EXP-1")
    assert agenda_items(TODAY - 30 * DAY, TODAY - 2 * DAY)["timeboxes_expired"] == []
    assert len(agenda_items(TODAY - 30 * DAY, TODAY - DAY)["timeboxes_expired"]) == 1


def test_building_the_agenda_costs_the_same_queries_for_more_experiments():
    review = make_review(held_on=TODAY)
    _needing_attention("EXP-1")
    with CaptureQueriesContext(connection) as one:
        agenda = build_agenda(review)
    assert [len(section["items"]) for section in agenda["experiments"][1:4]] == [1, 1, 1]
    for number in range(2, 5):
        _needing_attention(f"EXP-{number}")
    with CaptureQueriesContext(connection) as four:
        agenda = build_agenda(review)
    assert [len(section["items"]) for section in agenda["experiments"][1:4]] == [4, 4, 4]
    assert len(four) == len(one), [query["sql"] for query in four]
