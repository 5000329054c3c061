"""Queueing background work so that nothing is lost when the broker is away."""

import logging

from celery import shared_task
from django.db import transaction
from kombu.exceptions import OperationalError as KombuOperationalError

from config.celery import app as celery_app

from .models import DeferredTask

logger = logging.getLogger(__name__)

BROKER_ERRORS = (KombuOperationalError, ConnectionError, OSError)


def _send(task_name, args, queue):
    try:
        celery_app.send_task(task_name, args=args, queue=queue or None)
        return True
    except BROKER_ERRORS as error:
        logger.warning("broker unavailable, deferring %s%s: %s", task_name, tuple(args), error)
        DeferredTask.objects.create(
            task_name=task_name, args=list(args), queue=queue or "", last_error=str(error)
        )
        return False


def enqueue(task, *args, queue=None):
    """Run `task(*args)` in the background once the current transaction commits.

    With the embedded default (no REDIS_URL) the task runs in-process at commit. With a
    broker that cannot be reached the task is stored as a DeferredTask instead of lost.
    """
    from django.conf import settings

    if settings.CELERY_TASK_ALWAYS_EAGER:
        transaction.on_commit(lambda: task.apply(args=args, throw=True))
        return
    transaction.on_commit(lambda: _send(task.name, list(args), queue))


@shared_task(name="core.tasks.redispatch_deferred")
def redispatch_deferred():
    """Send every deferred task; those that still cannot be sent stay for the next round."""
    sent = 0
    for deferred in DeferredTask.objects.all():
        try:
            celery_app.send_task(
                deferred.task_name, args=deferred.args, queue=deferred.queue or None
            )
        except BROKER_ERRORS as error:
            DeferredTask.objects.filter(pk=deferred.pk).update(
                attempts=deferred.attempts + 1, last_error=str(error)
            )
            break
        deferred.delete()
        sent += 1
    return sent
