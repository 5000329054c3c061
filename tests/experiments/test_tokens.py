"""API tokens: hashed at rest, shown once, scoped to one experiment, revocable, rate-limited."""

import hashlib
import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from experiments.models import ApiToken, Run, Status
from tests.factories import make_experiment, make_token

pytestmark = pytest.mark.django_db


def create_run(client, key, experiment_key, name="r1", client_key="", **headers):
    return client.post(
        f"/api/v1/experiments/{experiment_key}/runs",
        data=json.dumps({"name": name, "client_key": client_key}),
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


@pytest.mark.parametrize("with_creator", [True, False])
def test_a_verified_token_carries_its_experiment_and_creator_as_stored(
    with_creator, django_user_model
):
    creator = django_user_model.objects.create_user("dana") if with_creator else None
    experiment = make_experiment(key="EXP-1")
    token, key = make_token(experiment=experiment, created_by=creator, name="cluster")
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now())

    verified = ApiToken.verify(key)

    stored = ApiToken.objects.select_related("experiment", "created_by").get(pk=token.pk)
    for mine, theirs in [(verified, stored), (verified.experiment, stored.experiment)]:
        for field in type(theirs)._meta.concrete_fields:
            assert getattr(mine, field.attname) == getattr(theirs, field.attname), field.name
    assert verified.last_used_at.tzinfo is not None  # read as a time, not as text
    if with_creator:
        assert verified.created_by.get_username() == "dana" and verified.created_by.is_active
    else:
        assert verified.created_by is None


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


def should_stop(client, key, experiment_key="EXP-1", **headers):
    return client.get(
        f"/api/v1/experiments/{experiment_key}/should-stop",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        **headers,
    )


def test_failed_attempts_are_rate_limited_per_address(client, settings):
    settings.ASSAY_TOKEN_FAILURES_PER_MINUTE = 3
    make_experiment(key="EXP-1")
    guesser = {"REMOTE_ADDR": "10.0.0.9"}

    statuses = [create_run(client, "assay_x_y", "EXP-1", **guesser).status_code for _ in range(4)]
    blocked = create_run(client, "assay_x_y", "EXP-1", **guesser)

    assert statuses == [401, 401, 401, 429]
    assert blocked.status_code == 429
    assert "Too many failed token attempts from 10.0.0.9" in blocked.json()["detail"]
    assert create_run(client, "assay_x_y", "EXP-1", REMOTE_ADDR="10.0.0.10").status_code == 401


def test_valid_token_is_served_from_an_address_with_many_failures(client, settings):
    # Jobs behind one NAT or proxy share an address: a guesser there must not lock them out.
    settings.ASSAY_TOKEN_FAILURES_PER_MINUTE = 20
    experiment = make_experiment(key="EXP-1")
    _, key = make_token(experiment=experiment)
    shared = {"REMOTE_ADDR": "10.0.0.9"}

    failures = [should_stop(client, "Bearer x", **shared).status_code for _ in range(25)]

    assert failures[-1] == 429
    assert should_stop(client, key, **shared).status_code == 200
    assert create_run(client, key, "EXP-1", **shared).status_code == 201


def test_failures_count_per_forwarded_client_behind_a_trusted_proxy(client, settings):
    settings.ASSAY_TOKEN_FAILURES_PER_MINUTE = 2
    settings.ASSAY_TRUSTED_PROXY_COUNT = 1
    make_experiment(key="EXP-1")
    proxy = {"REMOTE_ADDR": "10.0.0.1"}

    def attempt(forwarded):
        return should_stop(client, "assay_x_y", HTTP_X_FORWARDED_FOR=forwarded, **proxy)

    # The proxy appends the real peer; whatever the client wrote before it is not trusted.
    guesser = [attempt(f"{forged}, 203.0.113.7").status_code for forged in ("1.1.1.1", "2.2.2.2")]
    blocked = attempt("3.3.3.3, 203.0.113.7")
    neighbour = attempt("203.0.113.8")

    assert guesser == [401, 401]
    assert blocked.status_code == 429
    assert "203.0.113.7" in blocked.json()["detail"]
    assert neighbour.status_code == 401


def test_two_trusted_proxies_take_the_second_entry_from_the_right(rf, settings):
    from core.throttle import client_address

    settings.ASSAY_TRUSTED_PROXY_COUNT = 2
    request = rf.get("/", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7, 10.1.1.1")
    assert client_address(request) == "203.0.113.7"
    settings.ASSAY_TRUSTED_PROXY_COUNT = 0
    assert client_address(request) == "127.0.0.1"  # REMOTE_ADDR; the header is ignored


def test_refusals_say_why(client, django_user_model):
    experiment = make_experiment(key="EXP-1")
    make_experiment(key="EXP-2")
    revoked, revoked_key = make_token(experiment=experiment)
    revoked.revoke()
    _, read_only_key = make_token(experiment=experiment, read_only=True)
    _, own_key = make_token(experiment=experiment)

    def detail(response, status):
        assert response.status_code == status, response.content
        return response.json()["detail"]

    assert "Unknown API token" in detail(should_stop(client, "assay_nope_nope"), 401)
    assert "revoked" in detail(should_stop(client, revoked_key), 401)
    assert "read-only" in detail(create_run(client, read_only_key, "EXP-1"), 403)
    assert "belongs to EXP-1" in detail(should_stop(client, own_key, "EXP-2"), 403)


def test_expired_token_is_refused(client):
    experiment = make_experiment(key="EXP-1")
    _, key = make_token(experiment=experiment, expires_at=timezone.now() - timedelta(minutes=1))
    _, later_key = make_token(experiment=experiment, expires_at=timezone.now() + timedelta(days=1))

    response = should_stop(client, key)

    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    assert create_run(client, later_key, "EXP-1").status_code == 201


def test_closed_experiment_refuses_writes_but_serves_reads(client, alice):
    experiment = make_experiment(key="EXP-1")
    _, key = make_token(experiment=experiment)
    created = create_run(client, key, "EXP-1", client_key="job-1")
    run_id = created.json()["id"]

    experiment.set_status(Status.KILLED, by=alice)

    # 409, not 403: the token is fine, the experiment takes no more reports; a job drops the
    # write and keeps asking should-stop instead of taking its token for bad.
    refused = create_run(client, key, "EXP-1", name="late")
    assert refused.status_code == 409
    assert "EXP-1 is killed: it takes no more reports" in refused.json()["detail"]
    # A spool replayed after the kill still finds its own run, to finish it.
    replayed = create_run(client, key, "EXP-1", client_key="job-1")
    assert replayed.status_code == 200
    assert replayed.json()["id"] == run_id
    read = client.get(
        f"/api/v1/experiments/EXP-1/runs/{run_id}", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert read.status_code == 200
    assert should_stop(client, key).json()["stop"] is True
    # The job told to stop still records how its run ended; a retried finish changes nothing
    # and another finish is refused.
    finish = f"/api/v1/experiments/EXP-1/runs/{run_id}/finish"

    def post_finish(status):
        return client.post(
            finish,
            data=json.dumps({"status": status}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )

    assert post_finish("killed").status_code == 200
    assert post_finish("killed").status_code == 200
    other = post_finish("finished")
    assert other.status_code == 409
    assert "is killed" in other.json()["detail"]


def test_deactivated_creators_tokens_stop_working(client, bob):
    experiment = make_experiment(key="EXP-1", owner=bob)
    _, key = make_token(experiment=experiment, created_by=bob)
    assert should_stop(client, key).status_code == 200

    bob.is_active = False
    bob.save()

    response = should_stop(client, key)
    assert response.status_code == 401
    assert "creator (bob) is deactivated" in response.json()["detail"]


def test_command_issues_a_token_with_an_expiry():
    experiment = make_experiment(key="EXP-1")
    out, err = StringIO(), StringIO()
    call_command("experiment_token", "EXP-1", "--expires-on", "2999-01-31", stdout=out, stderr=err)

    token = ApiToken.objects.get(experiment=experiment)
    assert timezone.localtime(token.expires_at).date().isoformat() == "2999-02-01"
    assert "valid until 2999-02-01" in err.getvalue()
    with pytest.raises(CommandError, match="in the past"):
        call_command("experiment_token", "EXP-1", "--expires-on", "2000-01-01", stdout=out)


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


def test_create_with_htmx_renders_the_tokens_region(alice_client, htmx):
    experiment = make_experiment()
    response = alice_client.post(
        reverse("experiments:token_create", args=[experiment.pk]),
        {"name": "ci", "read_only": "on"},
        headers=htmx,
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


def test_revoke_with_htmx_renders_the_region(alice_client, htmx):
    experiment = make_experiment()
    token, _ = make_token(experiment=experiment)
    response = alice_client.post(
        reverse("experiments:token_revoke", args=[experiment.pk, token.pk]),
        headers=htmx,
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


def test_token_page_sets_an_expiry_and_refuses_a_bad_date(alice_client):
    experiment = make_experiment()
    url = reverse("experiments:token_create", args=[experiment.pk])

    bad = alice_client.post(url, {"name": "ci", "expires_on": "31/01/2999"})
    assert bad.status_code == 400
    assert "is not a date of the form YYYY-MM-DD" in bad.content.decode()
    assert not ApiToken.objects.exists()

    made = alice_client.post(url, {"name": "ci", "expires_on": "2999-01-31"})
    assert made.status_code == 201
    token = ApiToken.objects.get()
    assert timezone.localtime(token.expires_at).date().isoformat() == "2999-02-01"
    assert "2999-02-01" in made.content.decode()
