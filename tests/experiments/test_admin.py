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
