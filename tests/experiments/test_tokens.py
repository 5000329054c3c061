"""API tokens: hashed at rest, shown once, scoped to one experiment, revocable, rate-limited."""

import hashlib
import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from experiments.models import ApiToken, Run
from tests.factories import make_experiment, make_token

pytestmark = pytest.mark.django_db


def create_run(client, key, experiment_key, name="r1", **headers):
    return client.post(
        f"/api/v1/experiments/{experiment_key}/runs",
        data=json.dumps({"name": name}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        **headers,
    )


def test_token_is_stored_hashed_never_in_clear():
    token, key = make_token()
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_hash == hashlib.sha256(key.encode()).hexdigest()
    values = [str(getattr(stored, field.attname)) for field in ApiToken._meta.concrete_fields]
    assert not any(key in value for value in values)
    assert key.split("_")[1] == stored.prefix


def test_valid_token_reports_and_records_last_use(client):
    experiment = make_experiment(key="EXP-1")
    token, key = make_token(experiment=experiment)
    assert token.last_used_at is None

    response = create_run(client, key, "EXP-1")

    assert response.status_code == 201
    token.refresh_from_db()
    assert token.last_used_at is not None


@pytest.mark.parametrize("header", [None, "Bearer nonsense", "Bearer assay_abc_def", "Basic x"])
def test_missing_or_wrong_token_is_401(client, header):
    make_experiment(key="EXP-1")
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.post(
        "/api/v1/experiments/EXP-1/runs",
        data=json.dumps({"name": "r"}),
        content_type="application/json",
        **extra,
    )
    assert response.status_code == 401
    assert "token" in response.json()["detail"]
    assert not Run.objects.exists()


def test_token_of_one_experiment_cannot_write_to_another(client):
    make_experiment(key="EXP-1")
    other = make_experiment(key="EXP-2")
    _, key = make_token(experiment=other)

    response = create_run(client, key, "EXP-1")

    assert response.status_code == 403
    assert "EXP-2" in response.json()["detail"]
    assert not Run.objects.exists()


def test_read_only_token_may_ask_but_not_report(client):
    experiment = make_experiment(key="EXP-1")
    _, key = make_token(experiment=experiment, read_only=True)

    assert create_run(client, key, "EXP-1").status_code == 403
    response = client.get(
        "/api/v1/experiments/EXP-1/should-stop", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 200


def test_revoked_token_is_refused_at_once(client):
    experiment = make_experiment(key="EXP-1")
    token, key = make_token(experiment=experiment)
    assert create_run(client, key, "EXP-1", name="before").status_code == 201

    token.revoke()

    assert create_run(client, key, "EXP-1", name="after").status_code == 401
    assert list(Run.objects.values_list("name", flat=True)) == ["before"]


def test_failed_attempts_are_rate_limited_per_address(client, settings):
    settings.ASSAY_TOKEN_FAILURES_PER_MINUTE = 3
    experiment = make_experiment(key="EXP-1")
    _, key = make_token(experiment=experiment)
    guesser = {"REMOTE_ADDR": "10.0.0.9"}

    statuses = [create_run(client, "assay_x_y", "EXP-1", **guesser).status_code for _ in range(4)]
    # Over the limit even the right key is refused from that address, so guessing stops...
    blocked = create_run(client, key, "EXP-1", **guesser)
    # ...while another address is served.
    elsewhere = create_run(client, key, "EXP-1", REMOTE_ADDR="10.0.0.10")

    assert statuses == [401, 401, 401, 429]
    assert blocked.status_code == 429
    assert "Too many failed token attempts" in blocked.json()["detail"]
    assert elsewhere.status_code == 201


# --- the token page ---


def test_owner_member_creates_a_token_and_sees_it_once(bob_client, bob):
    experiment = make_experiment(owner=bob)
    url = reverse("experiments:token_create", args=[experiment.pk])

    response = bob_client.post(url, {"name": "cluster"})

    assert response.status_code == 201
    token = ApiToken.objects.get()
    assert (token.experiment, token.name, token.created_by) == (experiment, "cluster", bob)
    shown = response.content.decode()
    key = shown.split('<code id="new-token">')[1].split("</code>")[0]
    assert ApiToken.authenticate(key) == token

    listing = bob_client.get(reverse("experiments:token_list", args=[experiment.pk]))
    assert listing.status_code == 200
    assert token.prefix in listing.content.decode()
    assert key not in listing.content.decode()


def test_create_with_htmx_renders_the_tokens_region(alice_client):
    experiment = make_experiment()
    response = alice_client.post(
        reverse("experiments:token_create", args=[experiment.pk]),
        {"name": "ci", "read_only": "on"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert response.status_code == 201
    assert body.lstrip().startswith('<section class="card" id="tokens">')
    assert ApiToken.objects.get().read_only


def test_lead_revokes_a_token_plain_post_redirects(alice_client):
    experiment = make_experiment()
    token, _ = make_token(experiment=experiment)

    response = alice_client.post(
        reverse("experiments:token_revoke", args=[experiment.pk, token.pk])
    )

    assert response.status_code == 302
    assert response.url == reverse("experiments:token_list", args=[experiment.pk])
    token.refresh_from_db()
    assert not token.is_active


def test_revoke_with_htmx_renders_the_region(alice_client):
    experiment = make_experiment()
    token, _ = make_token(experiment=experiment)
    response = alice_client.post(
        reverse("experiments:token_revoke", args=[experiment.pk, token.pk]),
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert "revoked" in response.content.decode()


def test_member_who_does_not_own_the_experiment_cannot_manage_tokens(bob_client, alice):
    experiment = make_experiment(owner=alice)
    token, _ = make_token(experiment=experiment)

    create = bob_client.post(reverse("experiments:token_create", args=[experiment.pk]))
    revoke = bob_client.post(reverse("experiments:token_revoke", args=[experiment.pk, token.pk]))
    listing = bob_client.get(reverse("experiments:token_list", args=[experiment.pk]))

    assert (create.status_code, revoke.status_code) == (403, 403)
    assert ApiToken.objects.count() == 1 and ApiToken.objects.get().is_active
    assert listing.status_code == 200
    assert "Create a token" not in listing.content.decode()


def test_charlie_sees_no_tokens_and_creates_none(charlie_client):
    experiment = make_experiment()
    assert (
        charlie_client.get(reverse("experiments:token_list", args=[experiment.pk])).status_code
        == 403
    )
    response = charlie_client.post(reverse("experiments:token_create", args=[experiment.pk]))
    assert response.status_code == 403
    assert not ApiToken.objects.exists()


# --- the management command ---


def test_command_prints_a_working_token_once():
    experiment = make_experiment(key="EXP-7")
    out, err = StringIO(), StringIO()

    call_command("experiment_token", "EXP-7", "--name", "ops", stdout=out, stderr=err)

    key = out.getvalue().strip()
    token = ApiToken.authenticate(key)
    assert token.experiment == experiment and token.name == "ops"
    assert "shown this once" in err.getvalue()


def test_command_revokes_by_id():
    experiment = make_experiment(key="EXP-7")
    token, key = make_token(experiment=experiment)

    call_command("experiment_token", "EXP-7", "--revoke", str(token.pk), stdout=StringIO())

    assert ApiToken.authenticate(key) is None


def test_command_names_an_unknown_experiment():
    with pytest.raises(CommandError, match="EXP-404"):
        call_command("experiment_token", "EXP-404")
