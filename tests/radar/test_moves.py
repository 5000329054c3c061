"""Moving a blip: in place with htmx, as a plain POST, and through the API."""

import json

import pytest
from django.urls import reverse
from django.utils import timezone

from radar.models import Ring, Technique
from tests.factories import make_technique

pytestmark = pytest.mark.django_db


def _move_url(technique):
    return reverse("radar:technique_move", args=[technique.slug])


def test_lead_moves_a_blip_in_place_with_htmx(alice_client, htmx):
    technique = make_technique(name="GQA", ring="assess")
    response = alice_client.post(
        _move_url(technique),
        {"to_ring": "adopt", "reason": "Standard in every model we serve"},
        headers=htmx,
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="moves">')
    assert "Assess → Adopt" in html
    assert Technique.objects.get(pk=technique.pk).ring == Ring.ADOPT


def test_lead_moves_a_blip_with_a_plain_post_and_is_redirected(alice_client):
    technique = make_technique(name="GQA", ring="assess")
    response = alice_client.post(
        _move_url(technique), {"to_ring": "adopt", "reason": "Standard everywhere"}
    )
    assert response.status_code == 302
    assert response["Location"] == technique.get_absolute_url()
    assert Technique.objects.get(pk=technique.pk).ring == Ring.ADOPT


def test_move_errors_show_inline_and_nothing_changes(alice_client, htmx):
    technique = make_technique(name="DPO", ring="adopt")
    response = alice_client.post(
        _move_url(technique), {"to_ring": "trial", "reason": ""}, headers=htmx
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "Say why the technique moves." in html
    assert "A technique in Trial needs an owner." in html
    assert "A technique in Trial needs a due date for its next action." in html
    assert Technique.objects.get(pk=technique.pk).ring == Ring.ADOPT
    assert technique.moves.count() == 1

    plain = alice_client.post(_move_url(technique), {"to_ring": "skip", "reason": "meh"})
    assert plain.status_code == 400
    assert "<html" in plain.content.decode()
    assert "needs a specific reason" in plain.content.decode()


def test_move_to_trial_can_set_owner_and_next_action_in_the_same_step(alice_client, bob):
    technique = make_technique(name="Speculative decoding", ring="assess")
    alice_client.post(
        _move_url(technique),
        {
            "to_ring": "trial",
            "reason": "2x on our traffic",
            "owner": bob.pk,
            "next_action": "Canary on 5% of traffic",
            "next_action_due": "2030-03-15",
            "evidence_links": "https://arxiv.org/abs/2211.17192\n",
        },
    )
    technique.refresh_from_db()
    assert (technique.ring, technique.owner, technique.next_action) == (
        "trial",
        bob,
        "Canary on 5% of traffic",
    )
    assert technique.moves.last().evidence_links == ["https://arxiv.org/abs/2211.17192"]


def test_member_cannot_move_a_blip(bob_client):
    technique = make_technique(name="GQA", ring="assess")
    response = bob_client.post(_move_url(technique), {"to_ring": "adopt", "reason": "I like it"})
    assert response.status_code == 403
    assert Technique.objects.get(pk=technique.pk).ring == Ring.ASSESS
    page = bob_client.get(technique.get_absolute_url()).content.decode()
    assert "Move this technique" not in page


# --- API ---


def _api_move(client, technique, **payload):
    return client.post(
        f"/api/v1/radar/techniques/{technique.slug}/move",
        data=json.dumps(payload),
        content_type="application/json",
    )


def test_api_lists_and_reads_techniques(bob_client):
    technique = make_technique(name="LoRA", ring="trial", tags=["training"])
    make_technique(name="Beam search", ring="skip")
    listing = bob_client.get("/api/v1/radar/techniques", {"ring": "trial"}).json()
    assert [item["slug"] for item in listing] == ["lora"]
    assert listing[0]["tags"] == ["training"]
    detail = bob_client.get(f"/api/v1/radar/techniques/{technique.slug}").json()
    assert detail["moves"][0]["to_ring"] == "trial"
    assert detail["moves"][0]["from_ring"] is None


def test_api_moves_a_technique(alice_client, alice):
    technique = make_technique(name="LoRA", ring="assess")
    response = _api_move(
        alice_client,
        technique,
        to_ring="trial",
        reason="Matched full fine-tuning",
        next_action="7B run",
        next_action_due=str(timezone.localdate()),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["ring"] == "trial"
    assert body["moves"][-1]["moved_by"] == "alice"


def test_api_rule_violations_are_400_with_field_errors(alice_client):
    technique = make_technique(name="Mamba", ring="adopt")
    response = _api_move(alice_client, technique, to_ring="skip", reason="")
    assert response.status_code == 400
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"reason", "failed_constraint"}
    unknown = _api_move(
        alice_client, technique, to_ring="skip", reason="x", superseded_by="no-such-thing"
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "superseded_by"
    assert Technique.objects.get(pk=technique.pk).ring == Ring.ADOPT


def test_api_member_gets_403_and_anonymous_401(bob_client, client):
    technique = make_technique(name="GQA", ring="adopt")
    response = _api_move(bob_client, technique, to_ring="hold", reason="x", failed_constraint="y")
    assert response.status_code == 403
    assert Technique.objects.get(pk=technique.pk).ring == Ring.ADOPT
    client.logout()
    assert client.get("/api/v1/radar/techniques").status_code == 401


def test_api_bad_ring_is_422(alice_client):
    technique = make_technique(name="GQA", ring="adopt")
    response = _api_move(alice_client, technique, to_ring="sideways", reason="x")
    assert response.status_code == 422


def test_openapi_declares_radar_responses(alice_client):
    schema = alice_client.get("/api/v1/openapi.json").json()
    move = schema["paths"]["/api/v1/radar/techniques/{slug}/move"]["post"]
    assert {"200", "400", "401", "403", "404", "422"} <= set(move["responses"])
