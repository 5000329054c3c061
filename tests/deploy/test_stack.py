"""deploy/stack.py runs the production processes (gunicorn, Celery worker, Celery beat) against
a real PostgreSQL and Redis, as an operator without Docker would (issue 2, skeleton)."""

import re
import secrets

import psycopg
import pytest

from tests.services import (
    StackProcess,
    login,
    manage,
    migrated_database,
    redis_url_for_tests,
    send_task,
    service_env,
    wait_for,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.celery, pytest.mark.slow]

PASSWORD = "stack-test-password"


@pytest.fixture(scope="module")
def stack(request, tmp_path_factory):
    cleanups = []
    try:
        _, database_url = migrated_database(request, tmp_path_factory, "assay_stack")
        redis_url, redis_server = redis_url_for_tests(tmp_path_factory)
        if redis_server:
            cleanups.append(redis_server.stop)
        data_dir = tmp_path_factory.mktemp("stack-data")
        env = service_env(
            DATABASE_URL=database_url, REDIS_URL=redis_url, ASSAY_DATA_DIR=str(data_dir),
            SECRET_KEY=secrets.token_urlsafe(48), DEBUG="false", LOG_LEVEL="INFO",
        )  # fmt: skip
        process = StackProcess(env, data_dir / "stack.log")
        cleanups.append(process.stop)
        process.start()  # --release: migrates (nothing left to do) and collects static files
        manage(env, "shell", "-c",
               "from tests.factories import make_user; "
               f"make_user(username='lena', role='Lead', password='{PASSWORD}')")  # fmt: skip
        process.database_url = database_url
        yield process
    finally:
        for cleanup in reversed(cleanups):
            cleanup()


def _count(database_url, table):
    with psycopg.connect(database_url.replace("postgres://", "postgresql://")) as connection:
        return connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def test_stack_serves_healthz_and_a_logged_in_page(stack):
    session = login(stack.url, "lena", PASSWORD)
    page = session.get(f"{stack.url}/radar/", timeout=10)
    assert page.status_code == 200
    assert "lena" in page.text and "Lead" in page.text
    # Static files are served by the production server too (whitenoise).
    assert session.get(f"{stack.url}/static/css/assay.css", timeout=10).status_code == 200
    assert "Content-Security-Policy" in page.headers


def test_a_queued_task_is_executed_by_the_stack_worker(stack):
    # A job left in the outbox after a failed send (Redis was down) shows in the UI until a
    # worker sends it.
    manage(stack.env, "shell", "-c",
           "from core.models import DeferredTask; DeferredTask.objects.create("
           "task_name='papers.tasks.reconcile_indexes', attempts=1)")  # fmt: skip
    session = login(stack.url, "lena", PASSWORD)
    assert "1 background job could not be queued" in session.get(stack.url, timeout=10).text

    # Queue the redispatch through Redis: only the stack's worker can run it.
    send_task(stack.env, "core.tasks.redispatch_deferred")
    wait_for(lambda: _count(stack.database_url, "core_deferredtask") == 0, timeout=60,
             what="the worker to run core.tasks.redispatch_deferred")  # fmt: skip
    # ...and the task it re-sent was executed by the worker as well.
    succeeded = re.compile(r"papers\.tasks\.reconcile_indexes\[[^\]]+\] succeeded")
    wait_for(lambda: succeeded.search(stack.log()), timeout=180,
             what="the worker to run papers.tasks.reconcile_indexes")  # fmt: skip
    assert "could not be queued" not in session.get(stack.url, timeout=10).text


def test_beat_is_running_with_the_schedule(stack):
    assert re.search(r"^beat\s+\| .*beat: Starting", stack.log(), re.MULTILINE)
    assert stack.process.poll() is None


def test_sigterm_stops_every_process_cleanly(tmp_path, stack):
    # Run last in this module (definition order): stop the stack as systemd would.
    assert stack.stop() == 0
    log = stack.log()
    assert "stack | stopped" in log
    assert "did not stop" not in log
    for pid in re.findall(r"started \w+ \(pid (\d+)\)", log):
        assert not _alive(int(pid)), f"process {pid} outlived the stack"


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
