import pytest
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(factories.make_user(username="ada", role="Admin", is_staff=True))
    return client


def test_a_frozen_criterion_is_read_only_in_the_admin(admin_client):
    experiment = factories.make_experiment()
    criterion = factories.make_criterion(experiment=experiment)
    factories.report_run(experiment=experiment)
    url = reverse("admin:experiments_criterion_change", args=[criterion.pk])

    page = admin_client.get(url)
    assert page.status_code == 200
    assert b'name="threshold"' not in page.content  # no editable field left

    delete = admin_client.get(reverse("admin:experiments_criterion_delete", args=[criterion.pk]))
    assert delete.status_code == 403


def test_a_criterion_without_data_is_editable_in_the_admin(admin_client):
    criterion = factories.make_criterion(experiment=factories.make_experiment())
    page = admin_client.get(reverse("admin:experiments_criterion_change", args=[criterion.pk]))
    assert b'name="threshold"' in page.content


def test_deleting_an_experiment_with_a_record_archives_it(admin_client, alice):
    from experiments.models import Experiment, ExperimentEvent, GateDecision

    experiment = factories.make_experiment(title="Kept for the record")
    factories.give_supporting_evidence(experiment)
    experiment.decide_gate("yes", by=alice)
    url = reverse("admin:experiments_experiment_delete", args=[experiment.pk])
    confirm = admin_client.get(url)
    assert confirm.status_code == 200
    assert "archived, not deleted" in confirm.content.decode()
    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    experiment.refresh_from_db()
    assert experiment.status == "archived"
    assert GateDecision.objects.filter(experiment=experiment).exists()
    assert ExperimentEvent.objects.filter(experiment=experiment, message__contains="Archived")
    assert experiment not in Experiment.objects.visible()


def test_bulk_delete_in_the_admin_archives_and_only_deletes_empty_experiments(admin_client):
    from experiments.models import Experiment

    with_run = factories.make_experiment(title="Has a run")
    factories.report_run(experiment=with_run, values={"accuracy": 0.5})
    empty = factories.make_experiment(title="Typo, never used")
    response = admin_client.post(
        reverse("admin:experiments_experiment_changelist"),
        {"action": "delete_selected", "_selected_action": [with_run.pk, empty.pk], "post": "yes"},
    )
    assert response.status_code == 302
    assert list(Experiment.objects.values_list("title", "status")) == [("Has a run", "archived")]


def test_the_database_protects_decisions_and_history_from_a_cascade(alice):
    from django.db.models import ProtectedError

    experiment = factories.make_experiment()
    experiment.record("edited", "Edited: title", by=alice)
    with pytest.raises(ProtectedError):
        experiment.delete()


def test_archived_experiments_are_hidden_from_lists(alice_client, alice):
    experiment = factories.make_experiment(title="Old bet")
    factories.make_experiment(title="Live bet", technique=experiment.technique)
    experiment.archive(by=alice)
    listing = alice_client.get(reverse("experiments:experiment_list")).content.decode()
    assert "Live bet" in listing and "Old bet" not in listing
    archived = alice_client.get(reverse("experiments:experiment_list") + "?status=archived")
    assert "Old bet" in archived.content.decode()
    technique = alice_client.get(experiment.technique.get_absolute_url()).content.decode()
    assert "Live bet" in technique and "Old bet" not in technique


def test_history_and_recorded_fields_are_read_only_in_the_admin(admin_client, alice):
    experiment = factories.make_experiment()
    event = experiment.record("edited", "Edited: title", by=alice)
    delete = admin_client.get(reverse("admin:experiments_experimentevent_delete", args=[event.pk]))
    assert delete.status_code == 403
    page = admin_client.get(reverse("admin:experiments_experiment_change", args=[experiment.pk]))
    assert b'name="hypothesis"' not in page.content
    assert b'name="expected_benefit_per_month"' not in page.content


def test_forecasts_and_predictions_are_read_only_in_the_admin(admin_client, bob):
    import datetime

    from django.utils import timezone

    from experiments.models import Forecast, Prediction

    prediction = Prediction.objects.create(
        experiment=factories.make_experiment(), statement="s",
        resolve_by=timezone.localdate() + datetime.timedelta(days=9),
    )  # fmt: skip
    Forecast.make(prediction, forecaster=bob, probability=0.6, reasoning="a hunch")
    page = admin_client.get(reverse("admin:experiments_prediction_change", args=[prediction.pk]))
    assert page.status_code == 200 and b"a hunch" in page.content
    assert b'name="forecasts-0-probability"' not in page.content
    delete = admin_client.get(reverse("admin:experiments_prediction_delete", args=[prediction.pk]))
    assert delete.status_code == 403


def test_a_finished_run_cannot_be_rewritten_or_deleted_in_the_admin(admin_client):
    from experiments.models import Run

    experiment = factories.make_experiment()
    run = factories.report_run(experiment=experiment, values={"accuracy": 0.91})
    url = reverse("admin:experiments_run_change", args=[run.pk])

    page = admin_client.get(url)
    assert page.status_code == 200 and b"0.91" in page.content
    for field in ("status", "summary", "seed", "variant", "stage"):
        assert f'name="{field}"'.encode() not in page.content, field
    forged = {"name": run.name, "status": "failed", "summary": '{"accuracy": 0.99}', "seed": 7}
    assert admin_client.post(url, forged).status_code == 403
    delete = reverse("admin:experiments_run_delete", args=[run.pk])
    assert admin_client.get(delete).status_code == 403
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    # The bulk "delete selected" action is not offered, and posting it anyway deletes nothing.
    changelist = reverse("admin:experiments_run_changelist")
    assert b'value="delete_selected"' not in admin_client.get(changelist).content
    admin_client.post(
        changelist, {"action": "delete_selected", "_selected_action": [run.pk], "post": "yes"}
    )
    run.refresh_from_db()
    assert (run.status, run.summary, run.seed) == ("finished", {"accuracy": 0.91}, None)
    assert Run.objects.filter(pk=run.pk).exists()
    assert admin_client.get(reverse("admin:experiments_run_add")).status_code == 403


def test_a_lead_marks_a_dead_jobs_run_failed_from_the_admin_and_it_is_in_the_history(client):
    from experiments.models import ExperimentEvent

    experiment = factories.make_experiment()
    stuck = factories.report_run(experiment=experiment, name="seed-3")
    done = factories.report_run(experiment=experiment, values={"accuracy": 0.8}, name="seed-4")
    assert any("still running: seed-3" in blocker for blocker in experiment.gate_blockers())
    changelist = reverse("admin:experiments_run_changelist")

    # A staff Member is neither offered the action nor able to post it.
    client.force_login(factories.make_user(username="mo", role="Member", is_staff=True))
    assert b'value="mark_failed"' not in client.get(changelist).content
    client.post(changelist, {"action": "mark_failed", "_selected_action": [stuck.pk]})
    stuck.refresh_from_db()
    assert stuck.status == "running"

    lead = factories.make_user(username="lena", role="Lead", is_staff=True)
    client.force_login(lead)
    assert b'value="mark_failed"' in client.get(changelist).content
    response = client.post(
        changelist,
        {"action": "mark_failed", "_selected_action": [stuck.pk, done.pk]},
        follow=True,
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert "Marked failed: seed-3" in text and "seed-4: Run “seed-4” is finished" in text
    stuck.refresh_from_db()
    done.refresh_from_db()
    assert stuck.status == "failed" and stuck.finished_at is not None
    assert done.status == "finished"
    event = ExperimentEvent.objects.get(
        experiment=experiment, message__contains="“seed-3” marked failed"
    )
    assert event.actor == lead and event.data["run_status"] == "failed"
    assert not any("still running" in blocker for blocker in experiment.gate_blockers())


def test_only_a_lead_may_mark_a_run_failed_and_only_with_a_reason(alice, bob):
    from django.core.exceptions import PermissionDenied, ValidationError

    run = factories.report_run(experiment=factories.make_experiment())
    with pytest.raises(PermissionDenied):
        run.mark_failed(by=bob, reason="looks dead")
    with pytest.raises(ValidationError):
        run.mark_failed(by=alice, reason="  ")
    run.refresh_from_db()
    assert run.status == "running"
    run.mark_failed(by=alice, reason="node lost")
    assert run.experiment.events.filter(message__endswith="node lost", actor=alice).exists()
