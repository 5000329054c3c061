from django.conf import settings
from django.db import models
from django.utils import timezone

from ..enums import EventKind


class ExperimentEvent(models.Model):
    """One line of an experiment's history: gate decisions, criterion and status changes."""

    # PROTECT: the history outlives any attempt to delete its experiment (it is archived).
    experiment = models.ForeignKey(
        "experiments.Experiment", on_delete=models.PROTECT, related_name="events"
    )
    kind = models.CharField(max_length=20, choices=EventKind)
    message = models.TextField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.experiment.key}: {self.message}"
