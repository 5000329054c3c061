from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from ..enums import FailureCategory


class PostMortem(models.Model):
    """What a killed or rolled-back experiment taught us, and what changes because of it."""

    experiment = models.OneToOneField(
        "experiments.Experiment", on_delete=models.CASCADE, related_name="postmortem"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    timeline = models.TextField(
        blank=True,
        help_text="What happened, in order: first encounter, assessment, milestones, problems.",
    )
    root_cause = models.TextField(help_text="Ask “why?” until the cause is actionable.")
    lessons = models.TextField(help_text="What would have caught this earlier.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Post-mortem of {self.experiment.key}"

    def save(self, *args, **kwargs):
        self.clean()
        super().save(*args, **kwargs)

    def clean(self):
        if self.experiment_id and not self.experiment.is_closed:
            raise ValidationError(
                "Post-mortems are for killed or rolled-back experiments; this one is "
                f"{self.experiment.get_status_display().lower()}."
            )


class Failure(models.Model):
    """One thing that went wrong, by category."""

    postmortem = models.ForeignKey(PostMortem, on_delete=models.CASCADE, related_name="failures")
    category = models.CharField(max_length=20, choices=FailureCategory)
    description = models.TextField()

    class Meta:
        ordering = ["category", "id"]

    def __str__(self):
        return f"{self.get_category_display()}: {self.description[:60]}"


class ActionItemQuerySet(models.QuerySet):
    def overdue(self, *, on):
        """Items not done whose due date is before `on`."""
        return self.filter(done=False, due_on__lt=on)


class ActionItem(models.Model):
    """A change that follows from the post-mortem, with an owner and a due date."""

    postmortem = models.ForeignKey(
        PostMortem, on_delete=models.CASCADE, related_name="action_items"
    )
    description = models.CharField(max_length=300)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField(null=True, blank=True)
    done = models.BooleanField(default=False)

    objects = ActionItemQuerySet.as_manager()

    class Meta:
        ordering = ["done", "due_on", "id"]

    def __str__(self):
        return self.description
