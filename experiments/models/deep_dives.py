from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class DeepDive(models.Model):
    """A slot of a monthly review: one person presents a technique or an experiment, makes a
    recommendation, and the slot ends with the review's decision ("every deep dive ends with
    a decision")."""

    review = models.ForeignKey("radar.Review", on_delete=models.CASCADE, related_name="deep_dives")
    presenter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    technique = models.ForeignKey(
        "radar.Technique", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    experiment = models.ForeignKey(
        "experiments.Experiment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deep_dives",
    )
    recommendation = models.TextField(blank=True, help_text="The presenter's, with rationale.")
    decision = models.TextField(blank=True, help_text="What the review decided.")
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(technique__isnull=False) | models.Q(experiment__isnull=False),
                name="deep_dive_has_a_subject",
            ),
        ]

    def __str__(self):
        return f"Deep dive: {self.subject} by {self.presenter}"

    @property
    def subject(self):
        return self.experiment or self.technique

    def clean(self):
        if not self.technique_id and not self.experiment_id:
            raise ValidationError({"technique": "Pick the technique or the experiment presented."})

    def decide(self, *, by, decision, recommendation=None):
        """Record the review's decision at the end of the slot (and the recommendation, when
        it was only written at the meeting)."""
        decision = (decision or "").strip()
        if not decision:
            raise ValidationError({"decision": "Every deep dive ends with a decision: write it."})
        if recommendation is not None and recommendation.strip():
            self.recommendation = recommendation.strip()
        self.decision = decision
        self.decided_by = by
        self.decided_at = timezone.now()
        self.save()
