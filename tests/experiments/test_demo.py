import pytest
from django.core.management import call_command
from django.urls import reverse

from experiments.models import Experiment, GateDecision, Prediction, Run
from tests.factories import stored_points

pytestmark = pytest.mark.django_db


def test_demo_has_a_decided_gate_a_flagged_and_a_killed_experiment(client):
    call_command("load_demo")
    assert Experiment.objects.count() == 5
    assert GateDecision.objects.filter(decision="yes").exists()
    flagged = Experiment.objects.flagged().get()
    assert any("Hard kill criterion tripped" in flag for flag in flagged.flags)
    assert any("NaN/Inf" in flag for flag in flagged.flags)
    killed = Experiment.objects.get(status="killed")
    assert killed.postmortem.action_items.count() == 2
    assert len(stored_points(Run.objects.filter(experiment=killed))) >= 6 * 600
    assert any(prediction.is_resolved for prediction in Prediction.objects.all())

    client.login(username="alice", password=_demo_password())
    for experiment in Experiment.objects.all():
        page = client.get(reverse("experiments:experiment_detail", args=[experiment.pk]))
        assert page.status_code == 200
        assert "Baseline versus candidate" in page.content.decode()


def _demo_password():
    from review.management.commands.load_demo import DEMO_PASSWORD

    return DEMO_PASSWORD
