import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_every_page_needs_login(client):
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_login_page_logs_a_user_in(client, bob):
    from tests.factories import PASSWORD

    response = client.post(reverse("login"), {"username": "bob", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 200


def test_user_without_a_role_is_refused(charlie_client):
    assert charlie_client.get(reverse("radar:radar")).status_code == 403


def test_roles_are_layered(alice, bob):
    assert bob.has_perm("radar.view_technique")
    assert not bob.has_perm("radar.move_technique")
    assert alice.has_perm("radar.move_technique")
    assert alice.has_perm("experiments.sign_gate")
    assert not bob.has_perm("experiments.sign_gate")


def test_healthz_is_public(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "ok"
