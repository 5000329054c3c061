"""Every review view that answers htmx, asked with and without HX-Request."""

import pytest
from django.urls import reverse

from experiments.models import DeepDive
from radar.models import Review
from tests.factories import (
    make_experiment,
    make_nomination,
    make_review,
    make_technique,
    nomination_accept_data,
)
from tests.htmx_views import HtmxView, htmx_view_tests

pytestmark = pytest.mark.django_db

DEEP_DIVES = '<section class="card" id="deep-dives">'
NOMINATION = '<div class="nomination" id="nomination-'


def _review():
    """Today's review: a review's date is unique, and each view is asked twice."""
    return Review.objects.first() or make_review()


def _move(user):
    technique = make_technique(ring="assess")
    url = reverse("review:review_move", args=[_review().pk])
    return "post", url, {"technique": technique.pk, "to_ring": "adopt", "reason": "Standard now"}


def _minutes_edit(user):
    url = reverse("review:review_minutes_edit", args=[_review().pk])
    return "post", url, {"notes": "Decided: TRIAL", "attendees": [user.pk]}


def _reassign(user):
    technique = make_technique(ring="assess", owner=user)
    url = reverse("review:review_reassign", args=[_review().pk])
    return "post", url, {"technique": technique.pk, "next_action": "Read the paper"}


def _deep_dive_add(user):
    url = reverse("review:deep_dive_add", args=[_review().pk])
    data = {"presenter": user.pk, "experiment": make_experiment().pk, "recommendation": "Trial"}
    return "post", url, data


def _deep_dive_decide(user):
    review = _review()
    deep_dive = DeepDive.objects.create(review=review, presenter=user, technique=make_technique())
    url = reverse("review:deep_dive_decide", args=[review.pk, deep_dive.pk])
    return "post", url, {f"dive{deep_dive.pk}-decision": "TRIAL for 4 weeks"}


def _nomination_accept(user):
    review, nomination = _review(), make_nomination()
    url = reverse("review:nomination_accept", args=[review.pk, nomination.pk])
    return "post", url, nomination_accept_data(nomination, owner=user)


def _nomination_decline(user):
    review, nomination = _review(), make_nomination()
    url = reverse("review:nomination_decline", args=[review.pk, nomination.pk])
    return "post", url, {f"decline{nomination.pk}-decision_reason": "Superseded by GQA"}


VIEWS = {
    "review:review_move": HtmxView(
        request=_move, region='<section class="card" id="decisions">', plain="redirect"
    ),
    "review:review_minutes_edit": HtmxView(
        request=_minutes_edit, region='<div id="minutes">', plain="redirect"
    ),
    "review:review_reassign": HtmxView(
        request=_reassign, region='<section class="card" id="reassign">', plain="redirect"
    ),
    "review:deep_dive_add": HtmxView(request=_deep_dive_add, region=DEEP_DIVES, plain="redirect"),
    "review:deep_dive_decide": HtmxView(
        request=_deep_dive_decide, region=DEEP_DIVES, plain="redirect"
    ),
    "review:nomination_accept": HtmxView(
        request=_nomination_accept, region=NOMINATION, plain="redirect"
    ),
    "review:nomination_decline": HtmxView(
        request=_nomination_decline, region=NOMINATION, plain="redirect"
    ),
}


test_the_table_lists_every_view_that_answers_htmx, test_each_view_answers_plain_and_htmx = (
    htmx_view_tests("review", VIEWS)
)
