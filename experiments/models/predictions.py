from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class PredictionQuerySet(models.QuerySet):
    def resolved(self):
        return self.filter(outcome__isnull=False)

    def open(self):
        return self.filter(outcome__isnull=True)


class Prediction(models.Model):
    """A statement about an experiment that will turn out true or false by a date."""

    experiment = models.ForeignKey(
        "experiments.Experiment", on_delete=models.CASCADE, related_name="predictions"
    )
    statement = models.CharField(max_length=300)
    resolve_by = models.DateField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    outcome = models.BooleanField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = PredictionQuerySet.as_manager()

    class Meta:
        ordering = ["resolve_by", "id"]

    def __str__(self):
        return self.statement

    @property
    def is_resolved(self):
        return self.outcome is not None

    def resolve(self, *, outcome, by):
        """Settle the statement true or false; every forecast on it then has a Brier score."""
        claimed = Prediction.objects.filter(pk=self.pk, outcome__isnull=True).update(
            outcome=outcome, resolved_by=by, resolved_at=timezone.now()
        )
        if not claimed:
            raise ValidationError("This prediction is already resolved.")
        self.refresh_from_db()
        self.experiment.record(
            "prediction",
            f"Prediction “{self.statement}” resolved {'true' if outcome else 'false'}",
            by=by,
        )


class Forecast(models.Model):
    """One person's probability that a prediction comes true."""

    prediction = models.ForeignKey(Prediction, on_delete=models.CASCADE, related_name="forecasts")
    forecaster = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forecasts"
    )
    probability = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["prediction", "forecaster"], name="one_forecast_per_person"
            ),
            models.CheckConstraint(
                condition=models.Q(probability__gte=0) & models.Q(probability__lte=1),
                name="forecast_probability_in_unit_interval",
            ),
        ]

    def __str__(self):
        return f"{self.forecaster}: {self.probability:.0%}"

    def clean(self):
        if self.probability is not None and not 0 <= self.probability <= 1:
            raise ValidationError({"probability": "A probability is between 0 and 1."})
        if self.prediction_id and self.prediction.is_resolved:
            raise ValidationError("This prediction is resolved: forecasts are closed.")

    @property
    def brier(self):
        """Squared error of the forecast against the outcome; None until resolved."""
        outcome = self.prediction.outcome
        if outcome is None:
            return None
        return (self.probability - float(outcome)) ** 2
