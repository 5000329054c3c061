"""A Celery worker is SIGKILLed in the middle of re-embedding the papers (issue 5, "Faults").

A real worker rebuilds the MiniLM index (the Rebuild button, as a Lead presses it) and is
killed half-way. While it is dead a paper is deleted: search must never return it, although
the last index file still holds its vector. A new worker and the periodic reconcile task then
finish the job, and `manage.py check_index` reports no drift.
"""

import subprocess

import pytest

from papers.models import IndexState, Paper
from tests import factories
from tests.services import (
    PYTHON,
    ROOT,
    AppServer,
    CeleryWorker,
    login,
    redis_url_for_tests,
    send_task,
    set_password_for_servers,
    wait_for,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.redis, pytest.mark.celery]

# Progress is recorded per chunk of 8 batches (64 papers at batch size 8): 140 papers give
# several chunks (64, 128, 140), so the kill lands while the rebuild is visibly under way.
PAPERS = 140
MODEL = "minilm"
DOOMED = "Zebrafish Gradient Checkpointing for Sparse Mixture Routers"


@pytest.fixture
def stack(test_db_env, transactional_db, settings, tmp_path, tmp_path_factory):
    redis_url, redis_server = redis_url_for_tests(tmp_path_factory)
    env = test_db_env(REDIS_URL=redis_url, ASSAY_EMBEDDING_MODELS=MODEL,
                      ASSAY_EMBEDDING_DEFAULT_MODEL=MODEL,
                      # Small batches: progress is recorded often, so the kill lands mid-run.
                      ASSAY_EMBEDDING_BATCH_SIZE="8")  # fmt: skip
    # This process only creates rows; the worker does all the embedding.
    settings.ASSAY_EMBEDDING_MODELS = []
    server = AppServer(env, workers=1, threads=4, log_path=tmp_path / "web.log")
    workers = []

    def new_worker():
        worker = CeleryWorker(env, log_path=tmp_path / "worker.log")
        workers.append(worker)
        return worker.start()

    try:
        server.start()
        yield server, new_worker, env
    finally:
        for worker in workers:
            worker.stop()
        server.stop()
        if redis_server:
            redis_server.stop()


def _check_index(env):
    return subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), "check_index"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def _titles(session, url, query, mode):
    response = session.get(f"{url}/api/v1/papers/search",
                           params={"q": query, "mode": mode, "k": 20}, timeout=60)  # fmt: skip
    assert response.status_code == 200, response.text
    return [hit["title"] for hit in response.json()]


def _state():
    return IndexState.objects.filter(model=MODEL).first()


def test_killed_reindex_is_finished_later_and_search_never_shows_a_deleted_paper(stack):
    server, new_worker, env = stack
    set_password_for_servers(factories.make_user(username="lena", role="Lead"), "pw")
    for number in range(PAPERS - 1):
        factories.make_paper(
            title=f"Efficient attention variant {number}",
            abstract=f"We study kernel {number} for long-context transformers on GPUs.",
        )  # fmt: skip
    doomed = factories.make_paper(title=DOOMED, abstract="Zebrafish routing of sparse experts.")
    session = login(server.url, "lena", "pw")
    csrf = {"X-CSRFToken": session.cookies["csrftoken"], "Referer": server.url}

    # A first complete index, which holds the doomed paper's vector.
    worker = new_worker()
    response = session.post(f"{server.url}/papers/search/indexes/rebuild/",
                            data={"model": MODEL}, headers=csrf, timeout=30)  # fmt: skip
    assert response.status_code in (200, 302), response.text[:500]
    wait_for(lambda: _state() and _state().status == "done" and _state().count == PAPERS,
             timeout=300, what="the first index build")  # fmt: skip
    assert DOOMED in _titles(session, server.url, "zebrafish sparse experts", "dense")

    # Rebuild, and kill the worker once part of the papers are re-embedded.
    session.post(f"{server.url}/papers/search/indexes/rebuild/", data={"model": MODEL},
                 headers=csrf, timeout=30)  # fmt: skip
    wait_for(lambda: _state().status == "running" and 0 < _state().progress_done < PAPERS,
             timeout=120, interval=0.02, what="the rebuild to be under way")  # fmt: skip
    worker.kill()
    assert _state().status == "running"  # the dead worker's run, never finished

    # While no worker runs, a paper is deleted: no search mode may return it.
    Paper.objects.filter(pk=doomed.pk).delete()
    for mode in ("dense", "hybrid", "keyword"):
        assert DOOMED not in _titles(session, server.url, "zebrafish sparse experts", mode), mode

    # A new worker and the periodic reconcile finish the job.
    new_worker()
    send_task(env, "papers.tasks.reconcile_indexes")
    # Loading MiniLM and embedding 140 papers takes well under a minute here; 150 s is ample.
    wait_for(lambda: _check_index(env).returncode == 0, timeout=150, interval=2,
             what="check_index to report the index in sync")  # fmt: skip
    result = _check_index(env)
    assert f"{MODEL}: in sync" in result.stdout
    assert _state().status == "done" and _state().count == PAPERS - 1
    for mode in ("dense", "hybrid"):
        titles = _titles(session, server.url, "zebrafish sparse experts", mode)
        assert DOOMED not in titles and titles, mode
