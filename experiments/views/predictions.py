"""Predictions on experiments, forecasts by anyone, and each person's calibration."""

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.views.decorators.http import require_POST

from .. import charts, stats
from ..forms import ForecastForm, PredictionForm, ResolveForm
from ..models import Forecast
from .common import get_experiment_for_user


def prediction_list(request, pk):
    experiment = get_experiment_for_user(request, pk)
    form = PredictionForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("experiments.add_prediction"):
            raise PermissionDenied
        if form.is_valid():
            with transaction.atomic():
                prediction = form.save(commit=False)
                prediction.experiment, prediction.created_by = experiment, request.user
                prediction.save()
                Forecast.make(
                    prediction,
                    forecaster=request.user,
                    probability=form.cleaned_data["probability"],
                    reasoning=form.cleaned_data["reasoning"],
                )
            return redirect("experiments:prediction_list", pk=experiment.pk)
    predictions = experiment.predictions.prefetch_related("forecasts__forecaster")
    context = {
        "experiment": experiment,
        "predictions": predictions,
        "form": form,
        "can_resolve": experiment.editable_by(request.user),
    }
    return TemplateResponse(
        request, "experiments/predictions.html", context, status=400 if form.errors else 200
    )


@require_POST
@permission_required("experiments.add_forecast", raise_exception=True)
def forecast_add(request, pk, prediction_id):
    experiment = get_experiment_for_user(request, pk)
    prediction = get_object_or_404(experiment.predictions.open(), pk=prediction_id)
    form = ForecastForm(request.POST)
    if form.is_valid():
        try:
            Forecast.make(prediction, forecaster=request.user, **form.cleaned_data)
        except ValidationError as invalid:
            messages.error(request, " ".join(invalid.messages))
    else:
        messages.error(request, "A forecast is a probability between 0 and 1, with your reasoning.")
    return redirect("experiments:prediction_list", pk=experiment.pk)


@require_POST
def prediction_resolve(request, pk, prediction_id):
    experiment = get_experiment_for_user(request, pk, edit=True)
    prediction = get_object_or_404(experiment.predictions, pk=prediction_id)
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say whether it happened.")
    else:
        try:
            prediction.resolve(outcome=form.cleaned_data["outcome"], by=request.user)
        except PermissionDenied as refused:
            messages.error(request, str(refused))
        except ValidationError as invalid:
            messages.error(request, " ".join(invalid.messages))
    return redirect("experiments:prediction_list", pk=experiment.pk)


@permission_required("experiments.view_prediction", raise_exception=True)
def calibration(request):
    """Each forecaster's Brier score over resolved predictions, and a calibration chart."""
    forecasts = Forecast.objects.filter(prediction__outcome__isnull=False).select_related(
        "forecaster"
    )
    by_person = {}
    for forecast in forecasts.values("forecaster_id", "probability", "prediction__outcome"):
        probabilities, outcomes = by_person.setdefault(forecast["forecaster_id"], ([], []))
        probabilities.append(forecast["probability"])
        outcomes.append(float(forecast["prediction__outcome"]))
    users = get_user_model().objects.in_bulk(list(by_person))
    people = sorted(
        (
            {
                "user": users[user_id],
                "count": len(probabilities),
                "brier": stats.brier_score(probabilities, outcomes),
                "chart": charts.calibration_chart(stats.calibration(probabilities, outcomes)),
            }
            for user_id, (probabilities, outcomes) in by_person.items()
        ),
        key=lambda person: person["brier"],
    )
    return TemplateResponse(request, "experiments/calibration.html", {"people": people})
