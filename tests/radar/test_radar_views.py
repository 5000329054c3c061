import datetime
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from radar.models import Ring, Technique
from tests.factories import make_quadrant, make_review, make_technique, move_to_trial

pytestmark = pytest.mark.django_db

RADAR = reverse("radar:radar")


def _blips(html):
    """{slug: (x, y, classes)} of the blips drawn in the SVG."""
    found = {}
    for match in re.finditer(r'<a href="[^"]+" class="blip ([^"]+)" data-slug="([^"]+)">', html):
        shape = re.compile(r'cx="([\d.]+)" cy="([\d.]+)"|points="([\d.]+),([\d.]+)').search(
            html, match.end()
        )
        x, y = [value for value in shape.groups() if value is not None]
        found[match.group(2)] = (x, y, match.group(1))
    return found


def _populate(count, quadrants, prefix="Technique"):
    for number in range(count):
        make_technique(
            name=f"{prefix} {number:03}",
            ring=["adopt", "trial", "assess", "hold", "skip"][number % 5],
            quadrant=quadrants[number % len(quadrants)],
            tags=["serving"] if number % 2 else (),
        )


def test_radar_query_count_does_not_grow_with_techniques(alice_client):
    quadrants = [make_quadrant(name=name, order=i) for i, name in enumerate("ABCD")]
    make_review(held_on=timezone.localdate() - datetime.timedelta(days=3))
    _populate(5, quadrants)
    with CaptureQueriesContext(connection) as few:
        assert alice_client.get(RADAR).status_code == 200
    _populate(25, quadrants, prefix="More")
    with CaptureQueriesContext(connection) as many:
        response = alice_client.get(RADAR)
    assert response.content.decode().count('class="blip ') == 30
    assert len(many) == len(few)


def test_blips_stay_put_between_loads_and_only_move_with_their_ring(alice_client, alice):
    quadrants = [make_quadrant(name=name, order=i) for i, name in enumerate("ABC")]
    _populate(6, quadrants)
    first = _blips(alice_client.get(RADAR).content.decode())
    make_technique(name="Newcomer", quadrant=quadrants[0])
    second = _blips(alice_client.get(RADAR).content.decode())
    assert {slug: second[slug] for slug in first} == first
    technique = Technique.objects.get(slug="technique-000")
    technique.move_to(Ring.HOLD, by=alice, reason="Replaced", failed_constraint="Memory budget")
    third = _blips(alice_client.get(RADAR).content.decode())
    assert third["technique-000"][:2] != first["technique-000"][:2]
    assert third["technique-001"] == first["technique-001"]


def test_blips_are_marked_new_and_moved_since_the_last_review(alice_client, alice):
    long_ago = timezone.now() - datetime.timedelta(days=60)
    stayed = make_technique(name="Stayed", ring="adopt", at=long_ago)
    moved_in = make_technique(name="Moved in", ring="assess", at=long_ago)
    moved_out = make_technique(name="Moved out", ring="adopt", at=long_ago)
    make_review(held_on=timezone.localdate() - datetime.timedelta(days=30))
    make_technique(name="Brand new", ring="assess")
    move_to_trial(moved_in, by=alice, reason="Worked")
    moved_out.move_to(Ring.HOLD, by=alice, reason="Slow", failed_constraint="p99 latency")
    blips = _blips(alice_client.get(RADAR).content.decode())
    assert "mark-" not in blips[stayed.slug][2]
    assert "mark-in" in blips["moved-in"][2]
    assert "mark-out" in blips["moved-out"][2]
    assert "mark-new" in blips["brand-new"][2]


def test_radar_as_of_a_past_review_rebuilds_rings_from_history(alice_client, alice):
    long_ago = timezone.now() - datetime.timedelta(days=90)
    technique = make_technique(name="Speculative decoding", ring="assess", at=long_ago)
    review = make_review(held_on=timezone.localdate() - datetime.timedelta(days=45))
    move_to_trial(technique, by=alice, reason="2x throughput")
    make_technique(name="Later", ring="adopt")
    response = alice_client.get(RADAR, {"as_of": review.pk})
    html = response.content.decode()
    blips = _blips(html)
    assert set(blips) == {"speculative-decoding"}
    assert "blip-assess" in blips["speculative-decoding"][2]
    assert "as of " + review.held_on.strftime("%Y-%m-%d") in html
    now = _blips(alice_client.get(RADAR).content.decode())
    assert "blip-trial" in now["speculative-decoding"][2]


def test_skip_is_drawn_apart_from_the_rings(alice_client):
    make_technique(name="Skipped", ring="skip")
    make_technique(name="Adopted", ring="adopt")
    blips = _blips(alice_client.get(RADAR).content.decode())
    assert float(blips["skipped"][1]) > 660
    assert float(blips["adopted"][1]) < 660


def test_table_filters_by_owner_quadrant_ring_tag_and_stale(alice_client, alice, bob):
    serving = make_quadrant(name="Serving", order=1)
    make_technique(name="Owned by bob", ring="assess", owner=bob, tags=["gpu"])
    make_technique(name="Serving thing", ring="adopt", quadrant=serving)
    overdue = make_technique(name="Overdue", ring="trial", owner=alice)
    Technique.objects.filter(pk=overdue.pk).update(next_action_due=datetime.date(2020, 1, 1))

    def names(**params):
        html = alice_client.get(RADAR, params).content.decode()
        return set(re.findall(r'class="blip [^"]+" data-slug="([^"]+)"', html))

    assert names(owner="bob") == {"owned-by-bob"}
    assert names(quadrant=serving.pk) == {"serving-thing"}
    assert names(ring="trial") == {"overdue"}
    assert names(tag="gpu") == {"owned-by-bob"}
    assert names(stale="on") == {"overdue"}
    assert len(names()) == 3


def test_bad_filter_values_are_reported_not_fatal(alice_client):
    make_technique(name="Anything")
    response = alice_client.get(RADAR, {"ring": "sideways", "owner": "ghost"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Select a valid choice" in html
    assert 'data-slug="anything"' in html


def test_radar_filters_over_htmx_return_only_the_body(alice_client, htmx):
    make_technique(name="Anything")
    response = alice_client.get(RADAR, {"ring": "adopt"}, headers=htmx)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="radar-body">')
    assert "<html" not in html
    full = alice_client.get(RADAR, {"ring": "adopt"}).content.decode()
    assert "<html" in full and 'id="radar-body"' in full


def test_technique_page_shows_timeline_papers_and_experiments(alice_client, alice):
    from tests.factories import make_experiment, make_paper

    technique = make_technique(
        name="LoRA", ring="assess", description="**Low-rank** <script>x</script>"
    )
    technique.move_to(
        Ring.TRIAL,
        by=alice,
        reason="Matched full fine-tune",
        next_action="7B run",
        next_action_due=timezone.localdate(),
        evidence_links=["https://arxiv.org/abs/2106.09685"],
    )
    paper = make_paper(title="LoRA: Low-Rank Adaptation of Large Language Models")
    paper.techniques.add(technique)
    make_experiment(title="LoRA on the 7B model", technique=technique)
    html = alice_client.get(technique.get_absolute_url()).content.decode()
    assert "<strong>Low-rank</strong>" in html
    assert "<script>x</script>" not in html
    assert "Assess → Trial" in html and "Matched full fine-tune" in html
    assert "https://arxiv.org/abs/2106.09685" in html
    assert "LoRA: Low-Rank Adaptation" in html
    assert "LoRA on the 7B model" in html


def test_charlie_without_a_role_cannot_see_the_radar(charlie_client):
    technique = make_technique(name="Anything")
    assert charlie_client.get(RADAR).status_code == 403
    assert charlie_client.get(technique.get_absolute_url()).status_code == 403


def test_home_panel_shows_stale_count_due_actions_and_nominations(bob_client, alice):
    from tests.factories import make_nomination

    make_technique(name="Due soon", ring="trial", owner=alice)
    overdue = make_technique(name="Overdue", ring="trial", owner=alice)
    Technique.objects.filter(pk=overdue.pk).update(next_action_due=datetime.date(2020, 1, 1))
    make_nomination(name="Ring attention")
    html = bob_client.get(reverse("radar:home_panel")).content.decode()
    assert "1 stale" in html
    assert "Due soon" in html and "Overdue" in html
    assert "1 pending nomination" in html
