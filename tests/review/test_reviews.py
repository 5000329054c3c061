"""The monthly review: agenda, decisions in place (htmx and plain POST), nominations, minutes."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from radar.models import Nomination, Review, Ring, Technique
from tests.factories import (
    make_criterion,
    make_experiment,
    make_nomination,
    make_quadrant,
    make_review,
    make_technique,
    nomination_accept_data,
    report_run,
)

pytestmark = pytest.mark.django_db


def _days_ago(days):
    return timezone.localdate() - datetime.timedelta(days=days)


def _nominated(action, *, name, proposed_by):
    """A nomination on a new review's agenda, and the URL that accepts or declines it there."""
    review = make_review()
    nomination = make_nomination(name=name, proposed_by=proposed_by)
    return nomination, reverse(f"review:nomination_{action}", args=[review.pk, nomination.pk])


def test_agenda_lists_moves_since_last_review_stale_items_and_nominations(alice_client, alice):
    long_ago = timezone.now() - datetime.timedelta(days=90)
    old = make_technique(name="Old move", ring="assess", at=long_ago)
    make_review(held_on=_days_ago(30))
    review = make_review(held_on=timezone.localdate())
    old.move_to(
        Ring.TRIAL,
        by=alice,
        reason="Beat the baseline",
        next_action="Canary",
        next_action_due=datetime.date(2020, 1, 1),
    )
    make_nomination(name="Ring attention", reason="Long-context contracts")
    html = alice_client.get(review.get_absolute_url()).content.decode()
    assert "Assess → Trial" in html and "Beat the baseline" in html
    assert "Added in a test" not in html  # the entry move came before the previous review
    assert "next action overdue since 2020-01-01" in html
    assert "Ring attention" in html and "Long-context contracts" in html
    for title in ("Gates due", "Time-boxes expired", "Kill criteria tripped", "Flagged"):
        assert title in html


def test_agenda_shows_the_experiments_items(alice_client):
    experiment = make_experiment(title="FA3 on H100")
    deadline = _days_ago(-10)
    experiment.set_timebox("discovery", starts_on=_days_ago(5), deadline=deadline)
    make_criterion(experiment=experiment, kind="kill", comparator="lt")
    report_run(experiment=experiment, values={"accuracy": 0.1})
    experiment.evaluate()
    review = make_review(held_on=timezone.localdate())
    html = alice_client.get(review.get_absolute_url()).content.decode()
    assert f"Discovery gate due {deadline:%Y-%m-%d}" in html
    assert "Hard kill criterion tripped: mean accuracy of candidate &lt; 0.8" in html


def test_lead_moves_a_technique_during_the_review_in_place(alice_client, htmx):
    technique = make_technique(name="Mamba", ring="assess")
    review = make_review()
    url = reverse("review:review_move", args=[review.pk])
    data = {
        "technique": technique.pk,
        "to_ring": "hold",
        "reason": "No gain at our sequence lengths",
        "failed_constraint": "Needs >32k context to pay off",
    }
    response = alice_client.post(url, data, headers=htmx)
    html = response.content.decode()
    assert html.lstrip().startswith('<section class="card" id="decisions">')
    assert "No gain at our sequence lengths" in html
    assert technique.moves.last().review == review
    # The agenda's radar updates follow without a reload.
    updates = _card(html, "radar-updates")
    assert updates.startswith('<section class="card" id="radar-updates" hx-swap-oob="true">')
    assert "Assess → Hold" in updates and "No gain at our sequence lengths" in updates

    plain = alice_client.post(url, {**data, "to_ring": "skip", "failed_constraint": ""})
    assert plain.status_code == 400
    assert "needs a specific reason" in plain.content.decode()
    assert Technique.objects.get(pk=technique.pk).ring == Ring.HOLD


def test_decision_by_plain_post_redirects_to_the_review(alice_client):
    technique = make_technique(name="GQA", ring="trial")
    review = make_review()
    response = alice_client.post(
        reverse("review:review_move", args=[review.pk]),
        {"technique": technique.pk, "to_ring": "adopt", "reason": "Every model uses it"},
    )
    assert response.status_code == 302
    assert response["Location"] == review.get_absolute_url()


def test_member_proposes_a_nomination(bob_client, bob):
    quadrant = make_quadrant(name="Serving")
    response = bob_client.post(
        reverse("review:nomination_create"),
        {
            "name": "Speculative decoding",
            "quadrant": quadrant.pk,
            "reason": "2-3x decode speed with a draft model",
            "links": "https://arxiv.org/abs/2211.17192",
        },
    )
    assert response.status_code == 302
    nomination = Nomination.objects.get()
    assert (nomination.proposed_by, nomination.links) == (bob, ["https://arxiv.org/abs/2211.17192"])
    bad = bob_client.post(
        reverse("review:nomination_create"),
        {"name": "X", "quadrant": quadrant.pk, "reason": "", "links": "ftp://nope"},
    )
    assert bad.status_code == 400
    assert "Not an http(s) link" in bad.content.decode()


def test_review_accepts_a_nomination_in_place(alice_client, bob, htmx):
    review = make_review()
    nomination = make_nomination(name="Ring attention", proposed_by=bob)
    url = reverse("review:nomination_accept", args=[review.pk, nomination.pk])
    response = alice_client.post(url, nomination_accept_data(nomination, owner=bob), headers=htmx)
    html = response.content.decode()
    assert html.lstrip().startswith(f'<div class="nomination" id="nomination-{nomination.pk}">')
    assert "accepted" in html
    technique = Technique.objects.get(name="Ring attention")
    assert (technique.ring, technique.owner, technique.portfolio_bucket) == (
        "assess",
        bob,
        "exploratory",
    )
    assert technique.moves.get().review == review


def _card(html, card_id):
    start = html.index(f'<section class="card" id="{card_id}"')
    return html[start : html.index("</section>", start)]


def _decisions_card(html):
    return _card(html, "decisions")


def test_accepting_with_htmx_also_updates_the_decisions_card(alice_client, bob, htmx):
    review = make_review()
    nomination = make_nomination(name="Ring attention", proposed_by=bob)
    page = alice_client.get(review.get_absolute_url()).content.decode()
    assert "No decision recorded yet." in _decisions_card(page)
    assert "hx-swap-oob" not in page
    data = nomination_accept_data(nomination, owner=bob)
    url = reverse("review:nomination_accept", args=[review.pk, nomination.pk])
    html = alice_client.post(url, data, headers=htmx).content.decode()
    decisions = _decisions_card(html)
    assert decisions.startswith('<section class="card" id="decisions" hx-swap-oob="true">')
    assert "Ring attention" in decisions and "added in Assess" in decisions
    assert "No decision recorded yet." not in decisions
    # The accepted technique can now be moved in the same review without a reload.
    technique = Technique.objects.get(name="Ring attention")
    assert f'<option value="{technique.pk}">Ring attention</option>' in decisions
    updates = " ".join(_card(html, "radar-updates").split())
    assert 'hx-swap-oob="true"' in updates and "Ring attention</a>: added in Assess" in updates


def test_declining_with_htmx_also_updates_the_decisions_card(alice_client, bob, htmx):
    nomination, url = _nominated("decline", name="Technique X", proposed_by=bob)
    field = f"decline{nomination.pk}-decision_reason"
    html = alice_client.post(url, {field: "Superseded by GQA"}, headers=htmx).content.decode()
    assert html.lstrip().startswith(f'<div class="nomination" id="nomination-{nomination.pk}">')
    decisions = _decisions_card(html)
    assert 'hx-swap-oob="true"' in decisions
    assert "Nomination of Technique X declined: Superseded by GQA" in decisions


def test_refused_accept_with_htmx_leaves_the_decisions_card_alone(alice_client, bob, htmx):
    nomination, url = _nominated("accept", name="Ring attention", proposed_by=bob)
    html = alice_client.post(url, {}, headers=htmx).content.decode()
    assert 'id="decisions"' not in html


def test_accept_errors_show_inline_and_write_nothing(alice_client, bob, htmx):
    nomination, url = _nominated("accept", name="Ring attention", proposed_by=bob)
    prefix = f"accept{nomination.pk}-"
    data = {prefix + "ring": "trial", prefix + "reason": "", prefix + "portfolio_bucket": "core"}
    html = alice_client.post(url, data, headers=htmx).content.decode()
    assert "A technique in Trial needs an owner." in html
    assert "Say why the technique moves." in html
    assert not Technique.objects.exists()
    assert alice_client.post(url, data).status_code == 400


def test_review_declines_a_nomination_with_a_reason(alice_client, bob, htmx):
    review = make_review()
    nomination = make_nomination(name="Technique X", proposed_by=bob)
    url = reverse("review:nomination_decline", args=[review.pk, nomination.pk])
    field = f"decline{nomination.pk}-decision_reason"
    empty = alice_client.post(url, {field: ""}, headers=htmx).content.decode()
    assert "Say why the review declines it." in empty
    response = alice_client.post(url, {field: "Superseded by GQA at our sizes"})
    assert response.status_code == 302
    nomination.refresh_from_db()
    assert (nomination.status, nomination.review) == ("declined", review)


def test_member_cannot_decide_nominations_or_move_in_a_review(bob_client, bob):
    review = make_review()
    nomination = make_nomination(name="Technique X", proposed_by=bob)
    technique = make_technique(name="GQA", ring="trial")
    accept = reverse("review:nomination_accept", args=[review.pk, nomination.pk])
    assert bob_client.post(accept, {}).status_code == 403
    move = reverse("review:review_move", args=[review.pk])
    assert bob_client.post(move, {"technique": technique.pk}).status_code == 403
    assert Nomination.objects.get().is_pending


def test_lead_plans_a_review_and_bad_date_is_an_error(alice_client, alice, bob):
    response = alice_client.post(
        reverse("review:review_create"),
        {"held_on": "2030-01-15", "attendees": [alice.pk, bob.pk], "notes": "Deep dive: FA3"},
    )
    review = Review.objects.get()
    assert response["Location"] == review.get_absolute_url()
    assert set(review.attendees.all()) == {alice, bob}
    again = alice_client.post(reverse("review:review_create"), {"held_on": "2030-01-15"})
    assert again.status_code == 400
    assert "already exists" in again.content.decode()


def test_member_cannot_plan_a_review(bob_client):
    response = bob_client.post(reverse("review:review_create"), {"held_on": "2030-01-15"})
    assert response.status_code == 403


def test_minutes_export_as_markdown(alice_client, alice, bob):
    review = make_review(held_on=datetime.date(2030, 1, 15), notes="Deep dive on **FA3**.")
    review.attendees.set([alice, bob])
    technique = make_technique(name="Mamba", ring="assess")
    technique.move_to(
        Ring.HOLD, by=alice, reason="No gain", failed_constraint="Context < 8k", review=review
    )
    make_nomination(name="Technique X").decline(by=alice, reason="Not for us", review=review)
    response = alice_client.get(reverse("review:review_minutes", args=[review.pk]))
    assert response["Content-Type"].startswith("text/markdown")
    text = response.content.decode()
    assert text.startswith("# Research review, 2030-01-15")
    assert "Attendees: alice, bob" in text
    assert "- **Mamba**: Assess → Hold. No gain Fails: Context < 8k." in text
    assert "- Nomination of **Technique X** declined: Not for us" in text
    assert "Deep dive on **FA3**." in text
