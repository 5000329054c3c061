import datetime

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from experiments.models import Forecast, Prediction
from tests.factories import make_experiment, make_user

pytestmark = pytest.mark.django_db

RESOLVE_BY = timezone.localdate() + datetime.timedelta(days=30)


def _prediction(experiment, statement="Candidate beats baseline by 2 points"):
    return Prediction.objects.create(
        experiment=experiment, statement=statement, resolve_by=RESOLVE_BY
    )


def test_member_records_a_prediction_with_a_forecast(bob_client, bob):
    experiment = make_experiment()
    url = reverse("experiments:prediction_list", args=[experiment.pk])
    response = bob_client.post(
        url,
        {
            "statement": "FP8 loses < 0.5 points",
            "resolve_by": RESOLVE_BY,
            "probability": "0.7",
            "reasoning": "the 1B run lost 0.3",
        },
    )
    assert response.status_code == 302
    forecast = Forecast.objects.get()
    assert (forecast.forecaster, forecast.probability) == (bob, 0.7)
    assert "FP8 loses &lt; 0.5 points" in bob_client.get(url).content.decode()


@pytest.mark.parametrize("probability", ["1.5", "-0.1", "sure"])
def test_probability_outside_zero_to_one_is_refused(bob_client, probability):
    experiment = make_experiment()
    response = bob_client.post(
        reverse("experiments:prediction_list", args=[experiment.pk]),
        {"statement": "s", "resolve_by": RESOLVE_BY, "probability": probability, "reasoning": "r"},
    )
    assert response.status_code == 400 and "probability" in response.context["form"].errors
    assert not Prediction.objects.exists()


def test_database_refuses_out_of_range_forecasts_and_forecasts_without_reasoning(bob):
    prediction = _prediction(make_experiment())
    with pytest.raises(IntegrityError), transaction.atomic():
        Forecast.objects.bulk_create(
            [Forecast(prediction=prediction, forecaster=bob, probability=1.2, reasoning="r")]
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Forecast.objects.bulk_create(
            [Forecast(prediction=prediction, forecaster=bob, probability=0.3)]
        )


def test_resolving_gives_each_person_a_brier_score(alice, bob):
    prediction = _prediction(make_experiment())
    Forecast.make(prediction, forecaster=alice, probability=0.9, reasoning="r")
    Forecast.make(prediction, forecaster=bob, probability=0.2, reasoning="r")
    prediction.resolve(outcome=True, by=alice)
    scores = {f.forecaster: f.brier for f in prediction.forecasts.all()}
    assert scores[alice] == pytest.approx(0.01) and scores[bob] == pytest.approx(0.64)
    with pytest.raises(ValidationError, match="already resolved"):
        prediction.resolve(outcome=False, by=alice)


def test_forecasts_close_when_resolved(bob_client, alice):
    experiment = make_experiment()
    prediction = _prediction(experiment)
    prediction.resolve(outcome=False, by=alice)
    url = reverse("experiments:forecast_add", args=[experiment.pk, prediction.pk])
    assert bob_client.post(url, {"probability": "0.4", "reasoning": "r"}).status_code == 404
    assert not Forecast.objects.exists()


def test_only_owner_or_lead_resolves(bob_client):
    experiment = make_experiment(owner=make_user())
    prediction = _prediction(experiment)
    url = reverse("experiments:prediction_resolve", args=[experiment.pk, prediction.pk])
    assert bob_client.post(url, {"outcome": "true"}).status_code == 403
    prediction.refresh_from_db()
    assert prediction.outcome is None


def test_calibration_page_shows_brier_scores_and_a_chart(bob_client, alice, bob):
    experiment = make_experiment()
    for index, (probability, outcome) in enumerate([(0.9, True), (0.8, False), (0.1, False)]):
        prediction = _prediction(experiment, statement=f"Statement {index}")
        Forecast.make(prediction, forecaster=bob, probability=probability, reasoning="r")
        prediction.resolve(outcome=outcome, by=alice)
    open_prediction = _prediction(experiment, statement="still open")
    Forecast.make(open_prediction, forecaster=alice, probability=0.5, reasoning="r")

    page = bob_client.get(reverse("experiments:calibration")).content.decode()
    # (0.01 + 0.64 + 0.01) / 3 = 0.22; alice has no resolved forecast yet.
    assert "0.220" in page and "over 3 resolved forecasts" in page
    assert "<svg" in page and page.count("<circle") == 3
    assert ">alice<" not in page


def test_a_forecast_is_never_edited_and_a_revision_links_to_it_and_both_count(
    bob_client, bob, alice
):
    experiment = make_experiment()
    prediction = _prediction(experiment)
    first = Forecast.make(prediction, forecaster=bob, probability=0.8, reasoning="1B looked good")
    first.probability = 0.1
    with pytest.raises(ValidationError, match="cannot be changed"):
        first.save()
    with pytest.raises(ValidationError, match="cannot be deleted"):
        first.delete()
    url = reverse("experiments:forecast_add", args=[experiment.pk, prediction.pk])
    assert bob_client.post(url, {"probability": "0.4"}).status_code == 302  # no reasoning
    assert prediction.forecasts.count() == 1
    bob_client.post(url, {"probability": "0.4", "reasoning": "7B loss curve flattened"})
    first.refresh_from_db()
    revision = first.revised_by
    assert (first.probability, revision.probability) == (0.8, 0.4)
    history = experiment.events.get(message__startswith="Revised forecast")
    assert "80% → 40% — 7B loss curve flattened" in history.message and history.actor == bob
    prediction.resolve(outcome=False, by=alice)
    page = bob_client.get(reverse("experiments:calibration")).content.decode()
    assert "over 2 resolved forecasts" in page  # the revision and the forecast it revised


def test_a_forecast_is_made_before_the_resolve_by_date(bob):
    prediction = Prediction.objects.create(
        experiment=make_experiment(), statement="s", resolve_by=timezone.localdate()
    )
    with pytest.raises(ValidationError, match="before the resolve-by date"):
        Forecast.make(prediction, forecaster=bob, probability=0.5, reasoning="late")


def test_a_prediction_with_a_past_resolve_by_date_is_refused(bob_client):
    experiment = make_experiment()
    response = bob_client.post(
        reverse("experiments:prediction_list", args=[experiment.pk]),
        {"statement": "s", "resolve_by": timezone.localdate(), "probability": "0.5",
         "reasoning": "r"},
    )  # fmt: skip
    assert response.status_code == 400 and "resolve_by" in response.context["form"].errors


def test_the_author_resolves_only_if_a_lead(alice, bob):
    from django.core.exceptions import PermissionDenied

    experiment = make_experiment(owner=bob)
    mine = Prediction.objects.create(experiment=experiment, statement="mine",
                                     resolve_by=RESOLVE_BY, created_by=bob)  # fmt: skip
    with pytest.raises(PermissionDenied, match="someone other than its author"):
        mine.resolve(outcome=True, by=bob)
    mine.resolve(outcome=True, by=alice)
    lead_own = Prediction.objects.create(experiment=experiment, statement="lead's",
                                         resolve_by=RESOLVE_BY, created_by=alice)  # fmt: skip
    lead_own.resolve(outcome=False, by=alice)
    assert (mine.outcome, Prediction.objects.get(pk=lead_own.pk).outcome) == (True, False)
