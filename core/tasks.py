"""Background work through a transactional outbox, so that no task is lost.

enqueue() writes a DeferredTask row in the caller's transaction; once it commits, the task is
sent to the broker (or, without Redis, run in this process) and the row deleted. If the broker
is down, the task fails, or the process dies in between, the row stays and
redispatch_deferred (every minute, from beat or `manage.py run_periodic`) tries again.
"""

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import F
from django.utils import timezone
from kombu.exceptions import OperationalError as KombuOperationalError

from config.celery import app as celery_app

from .models import DeferredTask

logger = logging.getLogger(__name__)

BROKER_ERRORS = (KombuOperationalError, ConnectionError, OSError)
# A dispatcher holds a row this long; past it another may take the row (its process died).
CLAIM_SECONDS = 15 * 60
# After a broker failure this process does not try the broker again for this long: the rest of
# a request's tasks go straight to the outbox instead of each waiting for a timeout.
BROKER_PAUSE_SECONDS = 10.0
MAX_BACKOFF_SECONDS = 3600

_broker_down_until = 0.0
# Embedded default: one background thread runs tasks after the response, in order. Its thread
# is joined at interpreter exit, so a management command finishes its tasks before it ends.
_background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="assay-tasks")


def enqueue(task, *args, queue=None):
    """Run `task(*args)` in the background once the current transaction commits.

    The task is recorded in the outbox within the transaction, so it happens if and only if the
    change it follows is committed, even if this process dies right after the commit.
    """
    row = DeferredTask.objects.create(task_name=task.name, args=list(args), queue=queue or "")
    transaction.on_commit(lambda: dispatch(row.pk, task), robust=True)


def enqueue_fallback(task, *args, group, queue=None, after_seconds=300):
    """Record `task(*args)` in the outbox within the current transaction, without sending it.

    For work that is worked out and queued only at commit (papers coalesce a transaction's
    changes): once the real tasks are queued the caller discards the `group`; if the process
    died first, redispatch runs this row after `after_seconds`.
    """
    DeferredTask.objects.create(
        task_name=task.name,
        args=list(args),
        queue=queue or "",
        fallback_group=group,
        available_at=timezone.now() + timedelta(seconds=after_seconds),
    )


def discard(groups):
    """Delete the fallback rows of these groups: their work has been queued another way."""
    if groups:
        DeferredTask.objects.filter(fallback_group__in=list(groups)).delete()


def dispatch(pk, task=None):
    """Send (or run, without a broker) the outbox row `pk` if nobody else has it."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        if settings.ASSAY_TASKS_IN_BACKGROUND:
            _background.submit(_in_background, pk, task)
        else:
            run_here(pk, task)
    else:
        send(pk)


def registered_task(name):
    """The Celery task called `name`, importing every app's tasks module first if need be."""
    if name not in celery_app.tasks:
        celery_app.loader.import_default_modules()  # runs the app's autodiscovery
    return celery_app.tasks[name]


def _claim(pk):
    until = timezone.now() + timedelta(seconds=CLAIM_SECONDS)
    claimed = DeferredTask.objects.due().filter(pk=pk).update(available_at=until)
    return DeferredTask.objects.filter(pk=pk).first() if claimed else None


def _failed(row, error):
    backoff = min(30 * 2**row.attempts, MAX_BACKOFF_SECONDS)
    DeferredTask.objects.filter(pk=row.pk).update(
        attempts=F("attempts") + 1,
        last_error=f"{type(error).__name__}: {error}",
        available_at=timezone.now() + timedelta(seconds=backoff),
    )


def send(pk):
    """Publish the row's task to the broker; True when sent (the row is then deleted)."""
    global _broker_down_until
    if time.monotonic() < _broker_down_until:
        DeferredTask.objects.filter(pk=pk, attempts=0).update(attempts=1)
        return False
    row = _claim(pk)
    if row is None:
        return False
    try:
        celery_app.send_task(row.task_name, args=row.args, queue=row.queue or None)
    except BROKER_ERRORS as error:
        logger.warning("broker unavailable, %s stays in the outbox: %s", row, error)
        _broker_down_until = time.monotonic() + BROKER_PAUSE_SECONDS
        # The next redispatch round may try again at once: the broker may be back by then.
        DeferredTask.objects.filter(pk=pk).update(
            attempts=F("attempts") + 1, last_error=str(error), available_at=None
        )
        return False
    row.delete()
    return True


def run_here(pk, task=None):
    """Run the row's task in this process (no broker); a failure is logged and retried later."""
    row = _claim(pk)
    if row is None:
        return False
    try:
        (task or registered_task(row.task_name)).apply(args=row.args, throw=True)
    except Exception as error:  # noqa: BLE001 - any task failure: keep the row, retry later
        logger.exception("background task %s failed; it will be retried", row)
        _failed(row, error)
        return False
    row.delete()
    return True


def _in_background(pk, task):
    close_old_connections()
    try:
        run_here(pk, task)
    finally:
        close_old_connections()


def wait_for_background():
    """Block until the background thread has run everything submitted so far (for tests)."""
    _background.submit(lambda: None).result()


@shared_task(name="core.tasks.redispatch_deferred")
def redispatch_deferred():
    """Send (without a broker: run) every due outbox row; returns how many went."""
    done = 0
    for pk in DeferredTask.objects.due().values_list("pk", flat=True):
        if settings.CELERY_TASK_ALWAYS_EAGER:
            done += run_here(pk)
        elif send(pk):
            done += 1
        elif time.monotonic() < _broker_down_until:
            break  # the broker is down: the rest waits for the next round
    return done
