"""Every radar view that answers htmx, asked with and without HX-Request."""

import pytest
from django.urls import reverse

from tests.factories import make_technique
from tests.htmx_views import HtmxView, home_panel_view, htmx_view_tests

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
    "radar:home_panel": home_panel_view("radar", "Radar"),
}


test_the_table_lists_every_view_that_answers_htmx, test_each_view_answers_plain_and_htmx = (
    htmx_view_tests("radar", VIEWS)
)
