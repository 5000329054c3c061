"""Criteria per stage: each stage's criteria freeze at its first run, gates read their own runs."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from experiments.models import Criterion, Run, StageFreeze
from tests.factories import make_criterion, make_experiment, report_run

pytestmark = pytest.mark.django_db


def test_a_criterion_belongs_to_the_current_stage_unless_told():
    experiment = make_experiment(stage="validation")
    assert make_criterion(experiment=experiment).stage == "validation"
    assert make_criterion(experiment=experiment, stage="integration").stage == "integration"


def test_a_stage_freezes_at_its_first_run_and_a_later_stage_stays_open():
    experiment = make_experiment()
    make_criterion(experiment=experiment)
    run = report_run(experiment=experiment, values={"accuracy": 0.9})
    assert run.stage == "discovery"
    with pytest.raises(ValidationError, match="Discovery criteria are frozen"):
        make_criterion(experiment=experiment, threshold=0.5)
    # The Validation gate's criteria can still be written before its first run.
    later = make_criterion(experiment=experiment, stage="validation", threshold=0.95)
    later.threshold = 0.9
    later.save()
    assert experiment.events.filter(message__contains="Discovery criteria frozen").exists()


def test_deleting_runs_never_unfreezes_a_stage():
    experiment = make_experiment()
    criterion = make_criterion(experiment=experiment)
    report_run(experiment=experiment, values={"accuracy": 0.9})
    Run.objects.filter(experiment=experiment).delete()
    assert StageFreeze.is_frozen(experiment.pk, "discovery")
    criterion.threshold = 0.1
    with pytest.raises(ValidationError, match="frozen"):
        criterion.save()
    with pytest.raises(ValidationError, match="frozen"):
        criterion.delete()


def test_a_criterion_cannot_be_moved_out_of_a_frozen_stage():
    experiment = make_experiment()
    criterion = make_criterion(experiment=experiment)
    report_run(experiment=experiment, values={"accuracy": 0.9})
    criterion.stage = "validation"
    with pytest.raises(ValidationError, match="Discovery criteria are frozen"):
        criterion.save()


def test_runs_are_tagged_with_the_stage_they_ran_in(alice):
    experiment = make_experiment()
    make_criterion(experiment=experiment, threshold=0.5)
    discovery_run = report_run(experiment=experiment, values={"accuracy": 0.9})
    experiment.decide_gate("yes", by=alice)
    later_run, _ = Run.start(experiment, name="validation-run")
    discovery_run.refresh_from_db()
    assert (discovery_run.stage, later_run.stage) == ("discovery", "validation")


def test_a_gate_is_evaluated_on_its_own_stages_runs_only(alice):
    experiment = make_experiment(stage="validation")
    criterion = make_criterion(experiment=experiment, stage="validation", threshold=0.8)
    # A strong run from Discovery does not count for the Validation gate on its own.
    old = report_run(experiment=experiment, values={"accuracy": 0.95}, stage="discovery")
    experiment.evaluate()
    criterion.refresh_from_db()
    assert criterion.result == "insufficient"

    experiment.carry_runs_over([old], by=alice, reason="same data, same code")
    criterion.refresh_from_db()
    assert criterion.result == "holds"
    event = experiment.events.get(message__contains="carried over")
    assert "same data, same code" in event.message and event.actor == alice


def test_only_a_lead_carries_runs_over_and_with_a_reason(alice, bob):
    experiment = make_experiment(stage="validation")
    old = report_run(experiment=experiment, values={"accuracy": 0.95}, stage="discovery")
    with pytest.raises(PermissionDenied):
        experiment.carry_runs_over([old], by=bob, reason="why not")
    with pytest.raises(ValidationError, match="Say why"):
        experiment.carry_runs_over([old], by=alice, reason=" ")
    assert not old.carry_overs.exists()


def test_the_page_shows_stages_and_the_lead_carries_runs_over(alice_client):
    experiment = make_experiment(stage="validation")
    make_criterion(experiment=experiment, stage="validation")
    old = report_run(experiment=experiment, values={"accuracy": 0.95}, stage="discovery")
    page = alice_client.get(experiment.get_absolute_url()).content.decode()
    assert "Carry earlier runs over to this gate" in page and old.name in page
    url = reverse("experiments:runs_carry_over", args=[experiment.pk])
    refused = alice_client.post(url, {"runs": [old.pk]})
    assert refused.status_code == 409 and "Say why" in refused.content.decode()
    response = alice_client.post(url, {"runs": [old.pk], "reason": "same eval set"})
    assert response.status_code == 302
    page = alice_client.get(experiment.get_absolute_url()).content.decode()
    assert "Earlier runs counted for this gate" in page
    assert Criterion.objects.get().result == "holds"


def test_adding_a_criterion_for_a_later_stage_on_the_page(bob_client, bob):
    experiment = make_experiment(owner=bob)
    report_run(experiment=experiment, values={"accuracy": 0.9})
    url = reverse("experiments:criterion_add", args=[experiment.pk])
    fields = {"kind": "success", "metric": "accuracy", "aggregation": "mean", "comparator": "ge",
              "threshold": "0.9", "variant": "candidate", "min_seeds": "1"}  # fmt: skip
    refused = bob_client.post(url, {**fields, "stage": "discovery"})
    assert (
        refused.status_code == 400 and "Discovery criteria are frozen" in refused.content.decode()
    )
    assert bob_client.post(url, {**fields, "stage": "validation"}).status_code == 302
    assert Criterion.objects.get().stage == "validation"
