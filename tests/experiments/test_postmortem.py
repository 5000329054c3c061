import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from experiments.models import PostMortem
from tests.factories import make_experiment

pytestmark = pytest.mark.django_db


@pytest.fixture
def killed(alice, bob):
    experiment = make_experiment(owner=bob)
    experiment.decide_gate("no", by=alice, learnings="Speed-up vanished at batch size 64")
    return experiment


def _url(name, experiment, *args):
    return reverse(f"experiments:{name}", args=[experiment.pk, *args])


def test_post_mortem_only_for_killed_or_rolled_back(bob_client):
    active = make_experiment()
    with pytest.raises(ValidationError, match="killed or rolled-back"):
        PostMortem.objects.create(experiment=active, root_cause="x", lessons="y")
    assert bob_client.get(_url("postmortem_detail", active)).status_code == 403


def test_owner_writes_the_post_mortem_with_failures_and_action_items(bob_client, bob, killed):
    response = bob_client.post(
        _url("postmortem_detail", killed),
        {"timeline": "Week 1: prototype 2x faster.", "root_cause": "Benchmarked at batch 1 only",
         "lessons": "Benchmark at production batch sizes"},
    )  # fmt: skip
    assert response.status_code == 302
    failure = {"category": "prototype", "description": "Unrepresentative batch size"}
    bob_client.post(_url("failure_add", killed), failure)
    bob_client.post(_url("action_item_add", killed),
                    {"description": "Add batch 64 to the eval checklist", "owner": bob.pk,
                     "due_on": "2026-03-01"})  # fmt: skip
    page = bob_client.get(_url("postmortem_detail", killed)).content.decode()
    for text in ("Benchmarked at batch 1 only", "Prototype", "Unrepresentative batch size",
                 "Add batch 64 to the eval checklist", "2026-03-01",
                 "Speed-up vanished at batch size 64", "Discovery gate: No"):  # fmt: skip
        assert text in page
    postmortem = killed.postmortem
    assert postmortem.author == bob
    item = postmortem.action_items.get()
    bob_client.post(_url("action_item_toggle", killed, item.pk))
    item.refresh_from_db()
    assert item.done


def test_post_mortem_needs_root_cause_and_lessons(bob_client, killed):
    response = bob_client.post(_url("postmortem_detail", killed), {"timeline": "t"})
    assert response.status_code == 400
    assert set(response.context["form"].errors) == {"root_cause", "lessons"}
    assert not PostMortem.objects.exists()


def test_action_item_needs_an_owner(bob_client, killed):
    bob_client.post(_url("postmortem_detail", killed), {"root_cause": "r", "lessons": "l"})
    response = bob_client.post(_url("action_item_add", killed), {"description": "Do a thing"})
    assert response.status_code == 400
    assert "owner" in response.context["action_form"].errors


def test_other_member_reads_but_cannot_write(client, killed):
    from tests.factories import make_user

    client.force_login(make_user(role="Member"))
    assert client.get(_url("postmortem_detail", killed)).status_code == 200
    response = client.post(_url("postmortem_detail", killed), {"root_cause": "r", "lessons": "l"})
    assert response.status_code == 403
    assert not PostMortem.objects.exists()
