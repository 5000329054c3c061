"""The monthly review's added agenda and in-meeting edits (issue 8 §5): soft kills, forecasts
due, overdue post-mortem actions, deep-dive slots, owner and next-action changes without a move,
and notes and attendees edited after the meeting."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from experiments.models import ActionItem, DeepDive, PostMortem, Prediction
from radar.models import RingMove, Technique, TechniqueChange
from tests.factories import (
    make_criterion,
    make_experiment,
    make_review,
    make_technique,
    report_run,
)

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def _days(days):
    return TODAY + datetime.timedelta(days=days)


def _card(html, card_id):
    start = html.index(f'id="{card_id}"')
    return html[start : html.index("</section>", start)]


# --- what the agenda lists ---


def test_agenda_lists_soft_kills_forecasts_due_and_overdue_actions(alice_client, alice):
    soft = make_experiment(title="Ring attention")
    make_criterion(experiment=soft, kind="kill", severity="soft", metric="latency_ms",
                   aggregation="mean", comparator="gt", threshold=100)  # fmt: skip
    report_run(experiment=soft, values={"latency_ms": 180})
    soft.evaluate()
    forecast = make_experiment(title="MoE routing")
    Prediction.objects.create(experiment=forecast, statement="Beats dense at 1B params",
                              resolve_by=_days(-3), created_by=alice)  # fmt: skip
    Prediction.objects.create(experiment=forecast, statement="Not yet due", resolve_by=_days(40))
    killed = make_experiment(title="Sparse attention", status="killed")
    postmortem = PostMortem.objects.create(experiment=killed, root_cause="x", lessons="y")
    ActionItem.objects.create(postmortem=postmortem, description="Add production data to evals",
                              owner=alice, due_on=_days(-10))  # fmt: skip
    ActionItem.objects.create(postmortem=postmortem, description="Done already", owner=alice,
                              due_on=_days(-10), done=True)  # fmt: skip
    review = make_review(held_on=TODAY)
    html = alice_client.get(review.get_absolute_url()).content.decode()
    assert "Soft kill criteria tripped (to discuss)" in html
    assert "Soft kill criterion tripped: mean latency_ms of candidate &gt; 100" in html
    assert "Forecasts due for resolution" in html
    assert f"Forecast due for resolution since {_days(-3):%Y-%m-%d}: Beats dense at 1B" in html
    assert "Not yet due" not in html
    assert "Overdue post-mortem action items" in html
    assert (
        f"Post-mortem action overdue since {_days(-10):%Y-%m-%d} (alice): Add production data"
        in html
    )
    assert "Done already" not in html
    minutes = alice_client.get(reverse("review:review_minutes", args=[review.pk])).content.decode()
    assert "## Soft kill criteria tripped (to discuss)" in minutes
    assert "Beats dense at 1B params" in minutes and "Add production data to evals" in minutes


def test_agenda_lists_hard_kills_of_the_current_stage_only(alice_client):
    experiment = make_experiment(title="Ring attention")
    make_criterion(experiment=experiment, kind="kill", severity="hard", metric="latency_ms",
                   aggregation="mean", comparator="gt", threshold=100)  # fmt: skip
    report_run(experiment=experiment, values={"latency_ms": 180})
    experiment.evaluate()
    review = make_review(held_on=TODAY)
    assert (
        "Hard kill criterion tripped"
        in alice_client.get(review.get_absolute_url()).content.decode()
    )

    # The kill was answered at the Discovery gate (a Lead overrode it): Validation starts clean.
    type(experiment).objects.filter(pk=experiment.pk).update(stage="validation")
    experiment.refresh_from_db()
    experiment.evaluate()
    html = alice_client.get(review.get_absolute_url()).content.decode()
    assert "Hard kill criterion tripped" not in html


# --- deep dives ---


def test_lead_plans_a_deep_dive_and_records_its_decision_in_place(alice_client, bob, htmx):
    review = make_review()
    experiment = make_experiment(title="Speculative decoding on chat")
    url = reverse("review:deep_dive_add", args=[review.pk])
    data = {"presenter": bob.pk, "experiment": experiment.pk,
            "recommendation": "Trial on the highest-volume endpoint"}  # fmt: skip
    html = alice_client.post(url, data, headers=htmx).content.decode()
    assert html.lstrip().startswith('<section class="card" id="deep-dives">')
    assert "Speculative decoding on chat" in html and "presented by bob" in html
    assert "Trial on the highest-volume endpoint" in html and "no decision yet" in html
    deep_dive = DeepDive.objects.get()
    decide = reverse("review:deep_dive_decide", args=[review.pk, deep_dive.pk])
    refused = alice_client.post(decide, {f"dive{deep_dive.pk}-decision": "  "}, headers=htmx)
    assert "Every deep dive ends with a decision" in refused.content.decode()
    response = alice_client.post(decide, {f"dive{deep_dive.pk}-decision": "TRIAL for 4 weeks"})
    assert response.status_code == 302 and response["Location"] == review.get_absolute_url()
    page = alice_client.get(review.get_absolute_url()).content.decode()
    assert "TRIAL for 4 weeks" in _card(page, "deep-dives")
    minutes = alice_client.get(reverse("review:review_minutes", args=[review.pk])).content.decode()
    assert "presented by bob. Recommendation: Trial on the highest-volume endpoint. " in minutes
    assert "Decision: TRIAL for 4 weeks" in minutes


def test_deep_dive_needs_a_technique_or_an_experiment(alice_client, bob):
    review = make_review()
    response = alice_client.post(
        reverse("review:deep_dive_add", args=[review.pk]), {"presenter": bob.pk}
    )
    assert response.status_code == 400
    assert "Pick the technique or the experiment presented." in response.content.decode()
    assert not DeepDive.objects.exists()


def test_member_cannot_plan_a_deep_dive(bob_client, bob):
    review = make_review()
    technique = make_technique()
    url = reverse("review:deep_dive_add", args=[review.pk])
    response = bob_client.post(url, {"presenter": bob.pk, "technique": technique.pk})
    assert response.status_code == 403
    assert not DeepDive.objects.exists()


# --- owner and next action changed without a move ---


def test_lead_changes_owner_and_next_action_in_place_without_moving(alice_client, alice, bob, htmx):
    technique = make_technique(name="Mamba", ring="trial", owner=alice)
    moves_before = RingMove.objects.count()
    review = make_review()
    url = reverse("review:review_reassign", args=[review.pk])
    data = {
        "technique": technique.pk,
        "owner": bob.pk,
        "next_action": "Long-context eval",
        "next_action_due": _days(21).isoformat(),
        "reason": "Bob owns long context",
    }
    html = alice_client.post(url, data, headers=htmx).content.decode()
    assert html.lstrip().startswith('<section class="card" id="reassign">')
    assert "Owner alice → bob" in html and "Next action Benchmark against the baseline" in html
    assert 'id="stale-items" hx-swap-oob="true"' in html  # staleness may have changed
    technique.refresh_from_db()
    assert (technique.ring, technique.owner) == ("trial", bob)
    assert technique.next_action == "Long-context eval"
    assert RingMove.objects.count() == moves_before  # no move
    change = TechniqueChange.objects.get()
    assert change.review == review and change.changed_by == alice
    assert change.changes["owner"] == ["alice", "bob"]
    # On the technique's own history.
    page = alice_client.get(technique.get_absolute_url()).content.decode()
    history = page[page.index('id="technique-changes"') :]
    assert "<strong>Owner</strong> alice → bob" in history
    assert f"review of {review.held_on:%Y-%m-%d}" in history and "Bob owns long context" in history


def test_reassign_keeps_what_is_left_empty_and_refuses_a_change_of_nothing(alice_client, alice):
    technique = make_technique(name="GQA", ring="trial", owner=alice)
    review = make_review()
    url = reverse("review:review_reassign", args=[review.pk])
    response = alice_client.post(url, {"technique": technique.pk})
    assert response.status_code == 400
    assert "Nothing to change: give a new owner, next action or due date." in (
        response.content.decode()
    )
    assert not TechniqueChange.objects.exists()
    new_due = _days(30)
    data = {"technique": technique.pk, "next_action_due": new_due.isoformat()}
    assert alice_client.post(url, data).status_code == 302
    technique.refresh_from_db()
    assert (technique.owner, technique.next_action, technique.next_action_due) == (
        alice, "Benchmark against the baseline", new_due,
    )  # fmt: skip
    assert list(TechniqueChange.objects.get().changes) == ["next_action_due"]


def test_reassign_that_breaks_a_ring_rule_is_refused_and_changes_nothing(alice, bob):
    technique = make_technique(name="RoPE scaling", ring="trial", owner=alice)
    with pytest.raises(ValidationError) as refused:
        technique.reassign(by=alice, owner=None, next_action="", next_action_due=None)
    assert set(refused.value.message_dict) == {"owner", "next_action", "next_action_due"}
    technique.refresh_from_db()
    assert (technique.owner, technique.next_action) == (alice, "Benchmark against the baseline")
    assert not TechniqueChange.objects.exists()


def test_reassign_by_plain_post_redirects_to_the_review(alice_client, bob):
    technique = make_technique(name="LoRA", ring="assess", owner=bob)
    review = make_review()
    url = reverse("review:review_reassign", args=[review.pk])
    data = {"technique": technique.pk, "owner": bob.pk, "next_action": "Read the QLoRA paper"}
    response = alice_client.post(url, data)
    assert response.status_code == 302 and response["Location"] == review.get_absolute_url()
    assert Technique.objects.get(pk=technique.pk).next_action == "Read the QLoRA paper"


def test_member_cannot_change_an_owner_in_the_review(bob_client, bob):
    technique = make_technique(name="LoRA", ring="assess", owner=bob)
    review = make_review()
    url = reverse("review:review_reassign", args=[review.pk])
    data = {"technique": technique.pk, "owner": bob.pk, "next_action": "Read the QLoRA paper"}
    assert bob_client.post(url, data).status_code == 403
    assert not TechniqueChange.objects.exists()


# --- notes and attendees after the meeting ---


def test_lead_edits_notes_and_attendees_after_the_meeting_and_it_is_recorded(
    alice_client, alice, bob, htmx
):
    review = make_review(held_on=_days(-10), notes="Draft")
    review.attendees.set([alice])
    url = reverse("review:review_minutes_edit", args=[review.pk])
    data = {"notes": "Decided: **TRIAL** spec decoding", "attendees": [alice.pk, bob.pk]}
    html = alice_client.post(url, data, headers=htmx).content.decode()
    assert html.lstrip().startswith('<div id="minutes">')
    assert "<strong>TRIAL</strong> spec decoding" in html
    assert "attendees alice → alice, bob; notes rewritten" in html
    review.refresh_from_db()
    assert review.notes == "Decided: **TRIAL** spec decoding"
    assert set(review.attendees.all()) == {alice, bob}
    [edit] = review.edits.all()
    assert edit.edited_by == alice and edit.changes["notes"] == ["Draft", review.notes]
    # A plain POST works too and is recorded as a second edit.
    response = alice_client.post(url, {"notes": "Final", "attendees": [bob.pk]})
    assert response.status_code == 302
    assert review.edits.count() == 2


def test_member_cannot_edit_the_minutes(bob_client, bob):
    review = make_review(notes="Kept")
    url = reverse("review:review_minutes_edit", args=[review.pk])
    assert bob_client.post(url, {"notes": "Changed"}).status_code == 403
    review.refresh_from_db()
    assert review.notes == "Kept" and not review.edits.exists()


def test_admin_cannot_rewrite_minutes_or_owners_behind_the_history(client):
    from tests.factories import make_user

    client.force_login(make_user(username="ada", role="Admin", is_staff=True))
    review = make_review(notes="As held")
    page = client.get(reverse("admin:radar_review_change", args=[review.pk]))
    assert page.status_code == 200 and b'name="notes"' not in page.content
    technique = make_technique(name="FlashAttention", ring="assess")
    page = client.get(reverse("admin:radar_technique_change", args=[technique.pk]))
    assert b'name="owner"' not in page.content and b'name="next_action"' not in page.content
