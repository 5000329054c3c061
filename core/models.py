from django.db import models
from django.db.models import Q
from django.utils import timezone


class DeferredTaskQuerySet(models.QuerySet):
    def due(self):
        """Rows nobody is working on now and whose retry time has come."""
        return self.filter(Q(available_at__isnull=True) | Q(available_at__lte=timezone.now()))

    def waiting(self):
        """Rows that could not be sent or run at least once: what the banner reports."""
        return self.filter(attempts__gt=0)


class DeferredTask(models.Model):
    """The outbox: a background task recorded in the same transaction as the change it follows.

    core.tasks.enqueue writes the row, and sends (or, on the embedded default, runs) the task once
    the transaction commits, deleting the row when that worked. A row left behind (the broker was
    down, the task failed, the process died in between) is picked up by
    core.tasks.redispatch_deferred; every Assay task is idempotent, so a task sent twice does no
    harm.
    """

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    queue = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Claimed by a dispatcher until then, or held back until then after a failure (backoff).
    available_at = models.DateTimeField(null=True, blank=True)
    # Fallback rows (core.tasks.enqueue_fallback) of one transaction, discarded together.
    fallback_group = models.CharField(max_length=32, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    objects = DeferredTaskQuerySet.as_manager()

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.task_name}{tuple(self.args)}"
