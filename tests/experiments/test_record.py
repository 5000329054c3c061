"""A record nobody can rewrite: reasons for changes, Lead-only extensions and supersedes,
append-only forecasts."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from experiments.models import Experiment
from tests.factories import make_experiment, make_run, make_technique

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


def test_changing_the_cost_benefit_needs_a_reason_and_keeps_old_and_new(bob):
    experiment = make_experiment(expected_benefit_per_month=Decimal("1000"))
    with pytest.raises(ValidationError, match="Say why"):
        experiment.revise(by=bob, reason=" ", expected_benefit_per_month=Decimal("9000"))
    experiment.refresh_from_db()
    assert experiment.expected_benefit_per_month == Decimal("1000")
    experiment.revise(by=bob, reason="new traffic forecast",
                      expected_benefit_per_month=Decimal("9000"))  # fmt: skip
    event = experiment.events.get(data__field="expected_benefit_per_month")
    assert (event.data["old"], event.data["new"]) == ("1000.00", "9000")
    assert "“1000.00” → “9000”: new traffic forecast" in event.message and event.actor == bob


def test_changing_a_deadline_needs_a_reason(bob):
    experiment = make_experiment()
    experiment.set_timebox("discovery", starts_on=TODAY, deadline=TODAY + 14 * DAY)
    with pytest.raises(ValidationError, match="Say why the time-box changes"):
        experiment.set_timebox("discovery", starts_on=TODAY, deadline=TODAY + 7 * DAY, by=bob)
    assert experiment.timebox("discovery").deadline == TODAY + 14 * DAY


def test_only_a_lead_extends_an_expired_time_box_and_the_expiry_stays_in_history(alice, bob):
    experiment = make_experiment()
    experiment.set_timebox("discovery", starts_on=TODAY - 20 * DAY, deadline=TODAY - DAY)
    with pytest.raises(PermissionDenied, match="Only a Lead"):
        experiment.set_timebox("discovery", starts_on=TODAY - 20 * DAY, deadline=TODAY + 7 * DAY,
                               by=bob, reason="nearly there")  # fmt: skip
    experiment.set_timebox("discovery", starts_on=TODAY - 20 * DAY, deadline=TODAY + 7 * DAY,
                           by=alice, reason="GPU outage cost us a week")  # fmt: skip
    assert experiment.evaluate() == []  # no longer flagged...
    messages = list(experiment.events.values_list("message", flat=True))
    # ...but the history still says it ran out, and when.
    assert f"Flagged: Discovery time-box ended on {TODAY - DAY:%Y-%m-%d}" in messages
    extension = experiment.events.get(data__field="timebox")
    assert f"(it had expired on {TODAY - DAY:%Y-%m-%d})" in extension.message
    assert extension.data["expired"] is True and extension.actor == alice


def test_a_member_extending_an_expired_time_box_on_the_page_gets_a_clear_refusal(bob_client, bob):
    experiment = make_experiment(owner=bob, hypothesis="h")
    experiment.set_timebox("discovery", starts_on=TODAY - 20 * DAY, deadline=TODAY - DAY)
    url = reverse("experiments:experiment_edit", args=[experiment.pk])
    data = {name: value for name, value in bob_client.get(url).context["form"].initial.items()
            if value is not None}  # fmt: skip
    data.update(technique=experiment.technique.pk, stage_starts_on=TODAY - 20 * DAY,
                stage_deadline=TODAY + 7 * DAY,
                change_reason="more time")  # fmt: skip
    refused = bob_client.post(url, data)
    assert refused.status_code == 403, refused.context["form"].errors
    assert "Only a Lead can extend a time-box that has run out" in refused.content.decode()
    assert experiment.timebox().deadline == TODAY - DAY


def test_superseding_needs_a_lead_and_a_member_owner_proposes(alice, bob):
    from experiments.models import Criterion
    from tests.factories import make_criterion, report_run

    experiment = make_experiment(owner=bob)
    criterion = make_criterion(experiment=experiment, threshold=0.8)
    report_run(experiment=experiment, values={"accuracy": 0.9})
    with pytest.raises(PermissionDenied, match="Only a Lead can supersede"):
        criterion.supersede(by=bob, reason="easier", threshold=0.5)
    proposal = criterion.propose_supersede(by=bob, reason="the eval set shrank", threshold=0.75)
    assert Criterion.objects.current().get() == criterion  # nothing changes yet
    with pytest.raises(PermissionDenied):
        proposal.approve(by=bob)
    replacement = proposal.approve(by=alice)
    assert replacement.threshold == 0.75 and replacement.created_by == alice
    criterion.refresh_from_db()
    assert criterion.supersede_reason == "the eval set shrank (proposed by bob)"
    with pytest.raises(ValidationError, match="already decided"):
        proposal.dismiss(by=alice)
    messages = list(experiment.events.values_list("message", flat=True))
    assert any(m.startswith("Proposed superseding") and "threshold → 0.75" in m for m in messages)


def test_creating_adding_a_criterion_and_writing_a_post_mortem_record_themselves(alice, bob):
    technique = make_technique()
    experiment = Experiment.objects.create_recorded(
        by=bob, key="EXP-70", title="LoRA r16", technique=technique, hypothesis="Cheaper"
    )
    assert experiment.owner == bob
    assert experiment.timebox().deadline == TODAY + 14 * DAY  # the typical Discovery length
    criterion = experiment.add_criterion(
        by=bob, kind="success", metric="accuracy", aggregation="mean", comparator="ge",
        threshold=0.8,
    )  # fmt: skip
    assert criterion.created_by == bob
    experiment.set_status("killed", by=alice, reason="Too slow")
    experiment.write_postmortem(by=bob, root_cause="Memory bound", lessons="Profile first")
    experiment.write_postmortem(by=alice, root_cause="Memory bound", lessons="Profile earlier")

    assert experiment.postmortem.author == bob  # its first writer
    history = experiment.events.order_by("created_at", "id")
    assert [(event.kind, event.message, event.actor) for event in history] == [
        ("created", "Created by bob", bob),
        ("criterion", "Criterion added: “mean accuracy of candidate ≥ 0.8”", bob),
        ("status", "Status Active → Killed: Too slow", alice),
        ("postmortem", "Post-mortem written", bob),
    ]


def test_a_criterion_is_not_added_to_a_frozen_stage_nor_recorded(bob):
    experiment = make_experiment()
    make_run(experiment=experiment)  # the stage's first run freezes its criteria

    with pytest.raises(ValidationError, match="frozen"):
        experiment.add_criterion(by=bob, kind="success", statement="Reviewers like it")
    assert not experiment.criteria.exists()
    assert not experiment.events.filter(kind="criterion", actor=bob).exists()
