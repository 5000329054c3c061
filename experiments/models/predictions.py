from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone


class PredictionQuerySet(models.QuerySet):
    def open(self):
        return self.filter(outcome__isnull=True)

    def due_by(self, day):
        """Predictions whose resolve-by date is `day` or earlier."""
        return self.filter(resolve_by__lte=day)


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
        """Settle the statement true or false; every forecast on it then has a Brier score.

        Its author may not mark their own homework: someone else resolves it, or a Lead.
        """
        if by.pk == self.created_by_id and not by.has_perm("experiments.sign_gate"):
            raise PermissionDenied(
                "A prediction is resolved by someone other than its author, or by a Lead."
            )
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
    """One person's probability that a prediction comes true, with their reasoning.

    Append-only: a forecast is never edited or deleted. Changing one's mind is a new
    forecast that revises the latest one; both count towards calibration.
    """

    prediction = models.ForeignKey(Prediction, on_delete=models.CASCADE, related_name="forecasts")
    forecaster = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="forecasts"
    )
    probability = models.FloatField()
    reasoning = models.TextField(help_text="Why this probability: what you expect and why.")
    revises = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="revised_by"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(probability__gte=0) & models.Q(probability__lte=1),
                name="forecast_probability_in_unit_interval",
            ),
            models.CheckConstraint(
                condition=~models.Q(reasoning=""), name="forecast_has_reasoning"
            ),
        ]

    def __str__(self):
        return f"{self.forecaster}: {self.probability:.0%}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("A forecast cannot be changed once made; revise it instead.")
        self.reasoning = (self.reasoning or "").strip()
        self.full_clean(exclude=["revises"])
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("A forecast cannot be deleted.")

    def clean(self):
        if self.probability is not None and not 0 <= self.probability <= 1:
            raise ValidationError({"probability": "A probability is between 0 and 1."})
        if not (self.reasoning or "").strip():
            raise ValidationError({"reasoning": "Say why: a forecast carries its reasoning."})
        if self.prediction_id and self.prediction.is_resolved:
            raise ValidationError("This prediction is resolved: forecasts are closed.")
        made_on = timezone.localdate(self.created_at or timezone.now())
        if self.prediction_id and made_on >= self.prediction.resolve_by:
            raise ValidationError(
                f"Forecasts are made before the resolve-by date "
                f"({self.prediction.resolve_by:%Y-%m-%d})."
            )

    @classmethod
    def make(cls, prediction, *, forecaster, probability, reasoning):
        """Record a forecast; one the person made before is revised (linked), never replaced."""
        with transaction.atomic():
            # The prediction's row lock keeps two revisions of one forecast from racing.
            Prediction.objects.select_for_update().filter(pk=prediction.pk).first()
            latest = (
                cls.objects.filter(
                    prediction=prediction, forecaster=forecaster, revised_by__isnull=True
                )
                .order_by("-created_at", "-id")
                .first()
            )
            forecast = cls(
                prediction=prediction,
                forecaster=forecaster,
                probability=probability,
                reasoning=reasoning,
                revises=latest,
            )
            forecast.save()
            change = f"{latest.probability:.0%} → " if latest else ""
            prediction.experiment.record(
                "prediction",
                f"{'Revised forecast' if latest else 'Forecast'} on “{prediction.statement}”: "
                f"{change}{forecast.probability:.0%} — {forecast.reasoning}",
                by=forecaster,
                forecast=forecast.pk,
                revises=latest.pk if latest else None,
            )
        return forecast

    @property
    def brier(self):
        """Squared error of the forecast against the outcome; None until resolved."""
        outcome = self.prediction.outcome
        if outcome is None:
            return None
        return (self.probability - float(outcome)) ** 2
