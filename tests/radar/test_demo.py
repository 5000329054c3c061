import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from core.roles import sync_groups
from radar import demo
from radar.models import Nomination, Quadrant, Review, RingMove, Technique

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo_radar():
    sync_groups()
    users = {}
    for name, role in [("alice", "Lead"), ("bob", "Member"), ("dana", "Member")]:
        users[name] = User.objects.create_user(username=name, password="x")
        users[name].groups.add(Group.objects.get(name=role))
    demo.load(users)
    return users


def test_demo_is_a_living_radar(demo_radar):
    assert Technique.objects.count() >= 15
    assert Quadrant.objects.count() == 4
    assert set(Technique.objects.values_list("ring", flat=True)) == {
        "adopt",
        "trial",
        "assess",
        "hold",
        "skip",
    }
    assert {"alice", "bob", "dana"} <= set(
        Technique.objects.filter(owner__isnull=False).values_list("owner__username", flat=True)
    )
    assert Review.objects.count() == 2
    assert RingMove.objects.filter(review__isnull=False).exists()
    assert Nomination.objects.pending().count() == 2
    assert Technique.objects.stale().count() >= 2


def test_demo_radar_page_marks_changes_since_the_last_review(client, demo_radar):
    client.force_login(demo_radar["alice"])
    html = client.get(reverse("radar:radar")).content.decode()
    for mark in ("mark-new", "mark-in", "mark-out"):
        assert mark in html
    review = Review.objects.order_by("held_on").first()
    assert client.get(review.get_absolute_url()).status_code == 200
