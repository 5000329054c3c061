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


def _broken_database(monkeypatch):
    from django.db import OperationalError

    class Unreachable:
        # Only the health check's own query fails; the session and user still load.
        def cursor(self):
            raise OperationalError('connection to server at "db.internal" (10.2.3.4) failed')

    monkeypatch.setattr("core.views.connection", Unreachable())


def test_healthz_hides_the_database_error_from_anonymous_callers(client, monkeypatch):
    _broken_database(monkeypatch)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "error"}
    assert "db.internal" not in response.content.decode()


def test_healthz_shows_the_database_error_to_staff(client, monkeypatch, django_user_model):
    staff = django_user_model.objects.create_user("ops", password="x", is_staff=True)
    client.force_login(staff)
    _broken_database(monkeypatch)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "db.internal" in response.json()["database"]


def test_login_is_throttled_per_address_and_username(client, bob, settings):
    from tests.factories import PASSWORD

    settings.ASSAY_LOGIN_FAILURES_PER_MINUTE = 3
    url = reverse("login")
    guesses = [
        client.post(url, {"username": "bob", "password": f"guess{n}"}).status_code for n in range(3)
    ]
    blocked = client.post(url, {"username": "bob", "password": PASSWORD})

    assert guesses == [200, 200, 200]
    assert blocked.status_code == 429
    assert "Too many failed logins" in blocked.content.decode()
    assert "_auth_user_id" not in client.session  # even the right password waits
    # bob from another address, and another username from this one, are not held up.
    elsewhere = client.post(url, {"username": "bob", "password": PASSWORD}, REMOTE_ADDR="10.9.9.9")
    assert elsewhere.status_code == 302


def test_admin_login_goes_through_the_throttled_login_page(client, alice):
    from tests.factories import PASSWORD

    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/accounts/login/?next=%2Fadmin%2F"
    assert response.status_code == 200
    # The admin has no login form of its own that guessing could go around.
    posted = client.post("/admin/login/", {"username": "alice", "password": PASSWORD})
    assert posted.status_code == 302 and posted["Location"].startswith(reverse("login"))
    assert "_auth_user_id" not in client.session
