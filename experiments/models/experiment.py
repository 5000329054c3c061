from django.conf import settings
from django.db import models


class Experiment(models.Model):
    """A research bet on a radar technique. (Skeleton: the experiments issue fills it in.)"""

    key = models.CharField(max_length=20, unique=True, help_text="Short id such as EXP-12")
    title = models.CharField(max_length=200)
    technique = models.ForeignKey(
        "radar.Technique", on_delete=models.PROTECT, related_name="experiments"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_experiments",
    )

    class Meta:
        ordering = ["key"]
        permissions = [("sign_gate", "Can decide a stage gate")]

    def __str__(self):
        return f"{self.key} {self.title}"
