"""A real Celery worker on Redis reads an uploaded PDF into passages, as in production: the web
side stores the file and queues the task; the worker's child process does the parsing."""

from unittest import mock

import pytest
from django.db import connection

from papers.models import PaperPdf
from tests import factories
from tests.papers.pdf_support import paper_pages
from tests.services import CeleryWorker, database_url_of, send_task, service_env, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.celery, pytest.mark.slow]


@pytest.fixture
def worker_env(transactional_db, redis_url, tmp_path, settings):
    data_dir = tmp_path / "data"
    env = service_env(
        DATABASE_URL=database_url_of(connection.settings_dict), REDIS_URL=redis_url,
        ASSAY_DATA_DIR=str(data_dir), SECRET_KEY="pdf-worker-" + "k" * 60,
        ASSAY_EMBEDDING_MODELS="wordllama", ASSAY_EMBEDDING_DEFAULT_MODEL="wordllama",
    )  # fmt: skip
    settings.MEDIA_ROOT = data_dir / "media"  # the worker reads what this process stores
    worker = CeleryWorker(env, log_path=tmp_path / "worker.log")
    try:
        yield env, worker.start()
    finally:
        worker.stop()


@pytest.fixture
def redis_url(tmp_path_factory):
    from tests.services import redis_url_for_tests

    url, server = redis_url_for_tests(tmp_path_factory)
    yield url
    if server:
        server.stop()


def test_a_celery_worker_extracts_an_uploaded_pdf(worker_env):
    env, _worker = worker_env
    paper = factories.make_paper(title="FlashAttention")
    # Stored as the upload view stores it; the task goes through Redis, not this process.
    with mock.patch("core.tasks.dispatch"):
        pdf = factories.make_pdf(paper=paper, pages=paper_pages(pages=2))
    send_task(env, "papers.tasks.extract_pdf", pdf.pk)
    wait_for(
        lambda: PaperPdf.objects.get(pk=pdf.pk).state == PaperPdf.State.EXTRACTED,
        timeout=60,
        what="the worker's extraction",
    )
    assert set(paper.passages.values_list("page", flat=True)) == {1, 2}
