from django.db import models


class Paper(models.Model):
    """A paper. (Skeleton: the papers issue fills in notes, identifiers and links.)"""

    title = models.TextField()
    authors = models.JSONField(default=list, blank=True)
    year = models.PositiveIntegerField(null=True, blank=True)
    abstract = models.TextField(blank=True)
    arxiv_id = models.CharField(max_length=50, blank=True, db_index=True)
    doi = models.CharField(max_length=255, blank=True, db_index=True)
    techniques = models.ManyToManyField("radar.Technique", blank=True, related_name="papers")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-year", "title"]

    def __str__(self):
        return self.title
