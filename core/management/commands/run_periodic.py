import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from core.tasks import registered_task

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Run what Celery beat runs (settings.CELERY_BEAT_SCHEDULE: outbox redispatch, index "
        "reconcile, experiment checks, intake watches) in this process, on the same schedule. "
        "For the embedded default, where no beat runs: `make run` starts it beside the web "
        "server."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="Run every periodic task once, then exit."
        )

    def handle(self, *args, once=False, **options):
        schedule = settings.CELERY_BEAT_SCHEDULE
        # Everything runs at start: an experiment whose time-box ran out while nothing was
        # serving is flagged now, not a quarter of an hour later.
        due_at = dict.fromkeys(schedule, 0.0)
        try:
            while True:
                for name, entry in schedule.items():
                    if time.monotonic() >= due_at[name]:
                        self._run(name, entry["task"])
                        due_at[name] = time.monotonic() + float(entry["schedule"])
                if once:
                    return
                time.sleep(max(0.0, min(min(due_at.values()) - time.monotonic(), 5.0)))
        except KeyboardInterrupt:
            return

    def _run(self, name, task_name):
        try:
            result = registered_task(task_name).apply(throw=True).get()
        except Exception:  # noqa: BLE001 - one failing task must not stop the others
            logger.exception("periodic task %s failed; it runs again next time", name)
            return
        self.stdout.write(f"{name}: {result}")
