from django.conf import settings
from django.db import models


class Technique(models.Model):
    """A blip on the radar. (Skeleton: the radar issue fills in quadrants, rings and moves.)"""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_techniques",
    )

    class Meta:
        ordering = ["name"]
        permissions = [("move_technique", "Can move a technique between rings")]

    def __str__(self):
        return self.name
