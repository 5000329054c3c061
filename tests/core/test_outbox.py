"""The transactional outbox (core.tasks): a task is recorded with the change it follows, sent or
run after the commit, and never lost: not when the process dies in between, not when the broker
is down, not when the task fails (embedded default: logged and retried, never a 500)."""

import logging
import socket
import threading
import time
from datetime import timedelta

import pytest
from celery import shared_task
from django.db import transaction
from django.utils import timezone

from config.celery import app as celery_app
from core import tasks
from core.models import DeferredTask
from papers.models import Paper
from tests.factories import make_paper

calls = []
failures_left = {"count": 0}
release = threading.Event()


@shared_task(name="tests.core.record")
def record(value):
    if failures_left["count"]:
        failures_left["count"] -= 1
        raise RuntimeError("the index folder is not writable")
    calls.append(value)


@shared_task(name="tests.core.wait_for_release")
def wait_for_release(value):
    release.wait(10)
    calls.append(value)


@pytest.fixture(autouse=True)
def _reset():
    calls.clear()
    failures_left["count"] = 0
    release.clear()
    tasks._broker_down_until = 0.0
    yield
    release.set()


@pytest.mark.django_db
def test_the_outbox_row_is_written_in_the_transaction_of_the_change(
    django_capture_on_commit_callbacks,
):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            tasks.enqueue(record, "rolled back")
            raise RuntimeError("the change fails")
    assert not DeferredTask.objects.exists()  # no change, no task

    # The process dies right after the commit, before the task was sent or run...
    with django_capture_on_commit_callbacks(execute=False):
        with transaction.atomic():
            tasks.enqueue(record, "committed")
    assert DeferredTask.objects.get().task_name == "tests.core.record"
    assert calls == []
    # ...and the redispatch round (beat, or `manage.py run_periodic`) still runs it.
    assert tasks.redispatch_deferred() == 1
    assert calls == ["committed"]
    assert not DeferredTask.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_task_that_fails_after_commit_is_logged_and_retried_not_raised(caplog):
    failures_left["count"] = 1
    with caplog.at_level(logging.ERROR, logger="core.tasks"):
        with transaction.atomic():
            tasks.enqueue(record, "note 7")
    # The request that committed the change does not see the failure...
    assert calls == []
    assert "background task tests.core.record('note 7',) failed" in caplog.text
    row = DeferredTask.objects.get()
    assert row.attempts == 1 and "the index folder is not writable" in row.last_error
    assert row.available_at > timezone.now()  # backoff: not retried in a tight loop
    assert tasks.redispatch_deferred() == 0  # not due yet
    # ...and once the backoff has passed, the next round runs it.
    DeferredTask.objects.update(available_at=timezone.now() - timedelta(seconds=1))
    assert tasks.redispatch_deferred() == 1
    assert calls == ["note 7"]
    assert not DeferredTask.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_failing_task_does_not_turn_a_request_into_a_500(bob_client, monkeypatch):
    from papers import keyword

    def broken(paper_ids=None):
        raise RuntimeError("keyword index unavailable")

    monkeypatch.setattr(keyword, "update_documents", broken)
    paper = make_paper(title="Attention is all you need")
    from tests.papers.test_views import _note_data

    response = bob_client.post(f"/papers/{paper.pk}/note/", _note_data())
    assert response.status_code == 302  # saved, as if nothing had gone wrong
    assert DeferredTask.objects.filter(task_name="papers.tasks.refresh_search_documents").exists()


@pytest.mark.django_db(transaction=True)
def test_embedded_default_runs_tasks_after_the_response_in_a_background_thread(settings):
    settings.ASSAY_TASKS_IN_BACKGROUND = True
    started = time.monotonic()
    with transaction.atomic():
        tasks.enqueue(wait_for_release, "embedded")
    # The caller (a request, an import) is not held up by the task.
    assert time.monotonic() - started < 2
    assert calls == []
    release.set()
    tasks.wait_for_background()
    assert calls == ["embedded"]
    assert not DeferredTask.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_large_import_embeds_after_the_response(alice_client, settings, monkeypatch):
    from papers import tasks as paper_tasks

    settings.ASSAY_TASKS_IN_BACKGROUND = True
    embedding = threading.Event()

    def slow_reindex(model_name, **kwargs):
        embedding.wait(10)  # stands in for minutes of embedding

    monkeypatch.setattr(paper_tasks, "reindex_model", slow_reindex)
    bibtex = "\n".join(
        f"@article{{p{i}, title={{Paper number {i}}}, author={{Doe, Jane}}, year={{2020}}}}"
        for i in range(50)
    )
    from django.core.files.uploadedfile import SimpleUploadedFile

    started = time.monotonic()
    response = alice_client.post(
        "/papers/import/", {"file": SimpleUploadedFile("refs.bib", bibtex.encode())}
    )
    assert response.status_code == 200
    assert time.monotonic() - started < 5
    assert Paper.objects.count() == 50
    assert DeferredTask.objects.filter(task_name="papers.tasks.index_papers").exists()
    embedding.set()
    tasks.wait_for_background()
    assert not DeferredTask.objects.filter(task_name="papers.tasks.index_papers").exists()


class SilentRedis:
    """A host that accepts connections and never answers: a hung or half-dead Redis."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(64)
        self.url = f"redis://127.0.0.1:{self.socket.getsockname()[1]}/0"

    def close(self):
        self.socket.close()


@pytest.fixture
def silent_broker(settings):
    redis = SilentRedis()
    settings.CELERY_TASK_ALWAYS_EAGER = False
    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = redis.url
    celery_app._pool = None
    yield redis
    celery_app.conf.broker_url = previous
    celery_app._pool = None
    redis.close()


@pytest.mark.django_db(transaction=True)
def test_a_dead_redis_costs_a_request_well_under_two_seconds(silent_broker):
    started = time.monotonic()
    with transaction.atomic():
        for value in range(3):  # a note save queues several tasks
            tasks.enqueue(record, value)
    elapsed = time.monotonic() - started
    print(f"3 tasks queued against a silent Redis in {elapsed:.2f} s")  # the figure, with -s
    assert elapsed < 2.5, f"the request waited {elapsed:.1f}s on a dead Redis"
    # Nothing lost: all three wait in the outbox, and the banner counts them.
    assert DeferredTask.objects.waiting().count() == 3


def test_a_dead_redis_cache_reads_as_empty_and_is_not_waited_on_twice():
    from config.cache import FailSoftRedisCache

    redis = SilentRedis()
    try:
        cache = FailSoftRedisCache(
            redis.url, {"OPTIONS": {"socket_connect_timeout": 0.3, "socket_timeout": 0.5}}
        )
        started = time.monotonic()
        assert cache.add("debounce:EXP-1", 1, 5) is True  # the caller goes ahead
        assert cache.get("throttle:1.2.3.4") is None
        for _ in range(20):  # the rest of the request: Redis is not asked again for now
            cache.get("query:embedding")
        assert time.monotonic() - started < 1.5
    finally:
        redis.close()


@pytest.mark.django_db
def test_paper_changes_are_in_the_outbox_within_their_transaction(
    django_capture_on_commit_callbacks, fake_models
):
    # Papers coalesce a transaction's changes into tasks at commit; full passes are recorded
    # in the transaction itself, for a process that dies before it queues the real ones.
    with django_capture_on_commit_callbacks(execute=False):
        with transaction.atomic():
            make_paper(title="Ring attention")
            make_paper(title="Blockwise transformers")
    fallbacks = DeferredTask.objects.order_by("pk")
    assert [(row.task_name, row.args) for row in fallbacks] == [
        ("papers.tasks.refresh_search_documents", [None]),
        ("papers.tasks.index_papers", ["bow"]),
        ("papers.tasks.index_papers", ["words"]),
    ]
    assert all(row.available_at > timezone.now() for row in fallbacks)  # only if not flushed


@pytest.mark.django_db
def test_a_flushed_transaction_leaves_no_fallback_behind(
    django_capture_on_commit_callbacks, fake_models
):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            paper = make_paper(title="Ring attention")
    assert not DeferredTask.objects.exists()
    assert paper.embeddings.count() == 2  # the real tasks ran
