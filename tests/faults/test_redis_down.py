"""Redis stops while people work (issue 5, "Faults survived, nothing lost").

A live gunicorn and a real Celery worker on Redis. With Redis stopped, pages load, a paper
note is saved through the web form and metrics are written through the API; the background
work they cause (keyword and vector indexing, evaluating the experiment) is kept in the
database outbox and the UI says so. When Redis returns, the redispatch task (which beat sends
every minute) is sent, the worker runs everything, the note becomes searchable and the banner
goes away.
"""

import pytest
from django.utils import timezone

from core.models import DeferredTask
from papers.models import PaperNote
from tests import factories
from tests.factories import stored_points
from tests.services import (
    AppServer,
    CeleryWorker,
    RedisServer,
    login,
    send_task,
    set_password_for_servers,
    wait_for,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.redis, pytest.mark.celery]

WORD = "quokkasharding"  # appears only in the note written while Redis is down


@pytest.fixture
def stack(test_db_env, transactional_db, settings, tmp_path):
    # Our own Redis (never CI's): this test stops it.
    redis = RedisServer(tmp_path / "redis").start()
    # The light embedding model only: this test is about queueing, not about MiniLM.
    env = test_db_env(REDIS_URL=redis.url, ASSAY_EMBEDDING_MODELS="wordllama",
                      ASSAY_EMBEDDING_DEFAULT_MODEL="wordllama")  # fmt: skip
    settings.ASSAY_EMBEDDING_MODELS = ["wordllama"]
    settings.ASSAY_EMBEDDING_DEFAULT_MODEL = "wordllama"
    settings.ASSAY_INDEX_DIR = test_db_env.data_dir / "indexes"
    server = AppServer(env, workers=2, threads=4, log_path=tmp_path / "web.log")
    worker = CeleryWorker(env, log_path=tmp_path / "worker.log")
    try:
        server.start()
        worker.start()
        yield redis, server, worker, env
    finally:
        worker.stop()
        server.stop()
        redis.stop()


def _search(session, url, query):
    response = session.get(f"{url}/api/v1/papers/search", params={"q": query, "mode": "keyword"},
                           timeout=30)  # fmt: skip
    assert response.status_code == 200, response.text
    return [hit["title"] for hit in response.json()]


def test_work_goes_on_without_redis_and_nothing_is_lost(stack, tmp_path):
    redis, server, worker, env = stack
    set_password_for_servers(factories.make_user(username="lena", role="Lead"), "pw")
    paper = factories.make_paper(title="Ring Attention with Blockwise Transformers")
    experiment = factories.make_experiment(key="EXP-REDIS")
    run = factories.make_run(experiment=experiment)
    _, key = factories.make_token(experiment=experiment)
    session = login(server.url, "lena", "pw")
    assert session.get(f"{server.url}/", timeout=10).status_code == 200

    redis.stop()

    # Pages still load.
    for path in ("/", "/papers/", "/radar/", f"/experiments/{experiment.pk}/"):
        assert session.get(f"{server.url}{path}", timeout=30).status_code == 200, path
    # A note is saved through the form, as a person would.
    note_url = f"{server.url}/papers/{paper.pk}/note/"
    response = session.post(note_url, data={
        "csrfmiddlewaretoken": session.cookies["csrftoken"], "date_read": timezone.localdate(),
        "relevance": 4, "pass_reached": 2, "summary": "Context parallelism over a ring",
        "key_insight": f"Blockwise attention passed around a ring: {WORD}.",
    }, headers={"Referer": note_url}, timeout=30, allow_redirects=False)  # fmt: skip
    assert response.status_code == 302, response.text[:500]
    assert PaperNote.objects.filter(paper=paper, key_insight__contains=WORD).exists()
    # A training job's metrics are stored.
    response = session.post(
        f"{server.url}/api/v1/experiments/{experiment.key}/runs/{run.pk}/metrics",
        json={"idempotency_key": "while-redis-down",
              "points": [{"key": "loss", "value": 0.5, "step": 0}]},
        headers={"Authorization": f"Bearer {key}"}, timeout=30,
    )  # fmt: skip
    assert response.status_code in (200, 201), response.text
    assert len(stored_points(run)) == 1

    # The background work is kept, not dropped, and the UI says so.
    deferred = set(DeferredTask.objects.values_list("task_name", flat=True))
    assert "papers.tasks.refresh_search_documents" in deferred
    assert "papers.tasks.index_papers" in deferred
    count = DeferredTask.objects.count()
    banner = f"{count} background job{'s' if count > 1 else ''} could not be queued"
    assert banner in session.get(f"{server.url}/papers/", timeout=10).text
    assert _search(session, server.url, WORD) == []  # not indexed yet: the work waits

    redis.start()  # same port, empty: what was queued before is gone, the outbox is not
    # What beat does every minute: send the redispatch task; the worker runs it.
    send_task(env, "core.tasks.redispatch_deferred")
    wait_for(lambda: not DeferredTask.objects.exists(), timeout=90,
             what="the worker to send every deferred task")  # fmt: skip
    wait_for(lambda: _search(session, server.url, WORD) == [paper.title], timeout=90,
             what="the note written while Redis was down to become searchable")  # fmt: skip
    assert "could not be queued" not in session.get(f"{server.url}/papers/", timeout=10).text
    assert worker.process.poll() is None  # the worker reconnected by itself
