"""Every radar view that answers htmx, asked with and without HX-Request."""

import pytest
from django.urls import reverse

from tests.factories import make_technique
from tests.htmx_views import HtmxView, check_plain_and_htmx, htmx_url_names

pytestmark = pytest.mark.django_db


def _move(user):
    technique = make_technique(ring="assess")
    url = reverse("radar:technique_move", args=[technique.slug])
    return "post", url, {"to_ring": "adopt", "reason": "Standard everywhere"}


VIEWS = {
    "radar:radar": HtmxView(
        request=lambda user: ("get", reverse("radar:radar"), {"ring": "adopt"}),
        region='<div id="radar-body">',
    ),
    "radar:technique_move": HtmxView(
        request=_move, region='<section class="card" id="moves">', plain="redirect"
    ),
    "radar:home_panel": HtmxView(
        request=lambda user: ("get", reverse("radar:home_panel"), {}),
        region='<h2><a href="/radar/">Radar</a></h2>',
        plain="fragment",
    ),
}


def test_the_table_lists_every_radar_view_that_answers_htmx():
    assert htmx_url_names("radar") == set(VIEWS)


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_each_view_answers_plain_and_htmx(name, client, alice, htmx):
    check_plain_and_htmx(client, alice, htmx, VIEWS[name])
