from django.db import models


class DeferredTask(models.Model):
    """A Celery task that could not be queued (broker down), kept until it can be.

    core.tasks.redispatch_deferred sends these once the broker is back; every Assay task is
    idempotent, so a task that is sent twice does no harm.
    """

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list)
    queue = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self):
        return f"{self.task_name}{tuple(self.args)}"
