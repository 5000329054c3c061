"""`manage.py run_periodic`: the embedded default's stand-in for Celery beat (`make run` starts
it beside runserver), so periodic work happens without Redis or a beat process."""

import datetime

import pytest
from django.core.management import call_command
from django.utils import timezone

from core import tasks
from core.models import DeferredTask
from experiments.models import Experiment
from tests.factories import make_experiment

pytestmark = pytest.mark.django_db
TODAY = timezone.localdate()
DAY = datetime.timedelta(days=1)


def test_an_expired_time_box_is_flagged_without_any_run_reporting(capsys):
    expired = make_experiment()
    expired.set_timebox("discovery", starts_on=TODAY - 30 * DAY, deadline=TODAY - DAY)
    make_experiment()
    assert not Experiment.objects.flagged().exists()
    call_command("run_periodic", "--once")
    assert list(Experiment.objects.flagged()) == [expired]
    output = capsys.readouterr().out
    assert "check-experiment-flags: 1" in output
    assert "reconcile-search-indexes" in output


def test_it_runs_what_waits_in_the_outbox(django_capture_on_commit_callbacks):
    from papers import tasks as paper_tasks

    with django_capture_on_commit_callbacks(execute=False):  # the process died after commit
        tasks.enqueue(paper_tasks.refresh_search_documents, [])
    assert DeferredTask.objects.count() == 1
    call_command("run_periodic", "--once")
    assert not DeferredTask.objects.exists()


def test_a_failing_periodic_task_does_not_stop_the_others(monkeypatch, caplog):
    from papers import tasks as paper_tasks

    def broken():
        raise RuntimeError("index folder gone")

    monkeypatch.setattr(paper_tasks.refresh_search_documents, "run", lambda *a: broken())
    expired = make_experiment()
    expired.set_timebox("discovery", starts_on=TODAY - 30 * DAY, deadline=TODAY - DAY)
    call_command("run_periodic", "--once")
    assert "periodic task reconcile-search-indexes failed" in caplog.text
    assert list(Experiment.objects.flagged()) == [expired]
