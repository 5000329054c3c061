import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from ..enums import TYPICAL_STAGE_DAYS, Stage


class StageTimebox(models.Model):
    """How long a stage may take: "if we haven't achieved X in Y weeks, we stop"."""

    experiment = models.ForeignKey(
        "experiments.Experiment", on_delete=models.CASCADE, related_name="timeboxes"
    )
    stage = models.CharField(max_length=20, choices=Stage)
    starts_on = models.DateField()
    deadline = models.DateField()

    class Meta:
        ordering = ["starts_on"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "stage"], name="one_timebox_per_stage"),
            models.CheckConstraint(
                condition=models.Q(deadline__gte=models.F("starts_on")),
                name="timebox_deadline_after_start",
            ),
        ]

    def __str__(self):
        return f"{self.get_stage_display()} {self.starts_on} – {self.deadline}"

    def clean(self):
        if self.starts_on and self.deadline and self.deadline < self.starts_on:
            raise ValidationError({"deadline": "The deadline must not be before the start."})

    def is_over(self, on=None):
        return self.deadline < (on or timezone.localdate())

    @property
    def days_left(self):
        return (self.deadline - timezone.localdate()).days

    @classmethod
    def typical(cls, stage):
        starts_on = timezone.localdate()
        return starts_on, starts_on + datetime.timedelta(days=TYPICAL_STAGE_DAYS[Stage(stage)])
