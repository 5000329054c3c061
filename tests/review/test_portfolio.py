"""The portfolio page: share of active work per bucket against the target split."""

import pytest
from django.urls import reverse

from radar.models import Technique
from tests.factories import make_experiment, make_technique

pytestmark = pytest.mark.django_db


def test_portfolio_shows_shares_against_targets_with_warnings(alice_client):
    for number in range(3):
        make_technique(name=f"Core {number}", portfolio_bucket="core")
    make_technique(name="Wild bet", portfolio_bucket="exploratory")
    make_technique(name="Parked", ring="hold", portfolio_bucket="adjacency")
    make_experiment(portfolio_bucket="adjacency", technique=Technique.objects.get(name="Core 0"))
    html = alice_client.get(reverse("review:portfolio")).content.decode()
    assert "Active techniques" in html and "Active experiments" in html
    assert "Core is 75% of active techniques, above the 60–70% target." in html
    assert "Exploratory is 25% of active techniques, above the 5–10% target." in html
    assert "Adjacency is 0% of active techniques, below the 20–30% target." in html
    assert "Adjacency is 100% of active experiments, above the 20–30% target." in html
