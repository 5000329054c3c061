"""A web process loads the default embedding model at start, in the background; a search that
comes first is told "warming up" (the page polls, the API answers 503 with Retry-After) instead
of hanging for the ~15 s the model takes to load."""

import subprocess
import threading
import time

import pytest
from django.urls import reverse

from papers import embeddings
from tests.factories import make_paper
from tests.papers import search_support
from tests.services import PYTHON, ROOT, service_env


@pytest.fixture
def slow_loading_model(db, fake_models, on_commit, monkeypatch):
    """Indexed papers, and a fresh process's default model that loads only when released."""
    with on_commit():
        make_paper(title="Attention is all you need", year=2017)
    loaded = threading.Event()
    monkeypatch.setattr(embeddings, "_loaded", {})  # as in a web process that just started

    def load_slowly(spec):
        loaded.wait(10)
        return search_support.BagOfWordsBackend()

    monkeypatch.setattr(embeddings, "_load_backend", load_slowly)
    embedder = embeddings.warm_up_in_background()
    yield embedder, loaded
    loaded.set()


def _wait_until_loaded(embedder):
    deadline = time.monotonic() + 10
    while embedder.warming_up and time.monotonic() < deadline:
        time.sleep(0.01)


def test_the_api_says_warming_up_with_retry_after_then_answers(bob_client, slow_loading_model):
    embedder, loaded = slow_loading_model
    # Keyword search needs no model and works meanwhile.
    keyword = bob_client.get("/api/v1/papers/search", {"q": "attention", "mode": "keyword"})
    assert keyword.status_code == 200 and keyword.json()[0]["title"].startswith("Attention")
    started = time.monotonic()
    response = bob_client.get("/api/v1/papers/search", {"q": "attention"})
    assert time.monotonic() - started < 2  # an answer at once, not a hang
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "Search is warming up" in response.json()["detail"]

    loaded.set()
    _wait_until_loaded(embedder)
    response = bob_client.get("/api/v1/papers/search", {"q": "attention"})
    assert response.status_code == 200
    assert response.json()[0]["title"] == "Attention is all you need"


def test_the_page_shows_warming_up_and_polls_until_results_come(
    bob_client, slow_loading_model, htmx
):
    embedder, loaded = slow_loading_model
    response = bob_client.get(reverse("papers:search"), {"q": "attention"}, headers=htmx)
    html = response.content.decode()
    assert response.status_code == 200
    assert "Search is warming up" in html and 'hx-trigger="every 2s"' in html

    loaded.set()
    _wait_until_loaded(embedder)
    response = bob_client.get(reverse("papers:search"), {"q": "attention"}, headers=htmx)
    html = response.content.decode()
    assert "<mark>Attention</mark> is all you need" in html and "every 2s" not in html


def _warm_up_started(tmp_path, *statements, **variables):
    code = "; ".join([*statements, "from papers import embeddings",
                      "print(embeddings.get_embedder().warming_up)"])  # fmt: skip
    env = service_env(ASSAY_DATA_DIR=str(tmp_path), DATABASE_URL=None, REDIS_URL=None,
                      ASSAY_EMBEDDING_MODELS="wordllama", **variables)  # fmt: skip
    result = subprocess.run(
        [PYTHON, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip() == "True"


def test_a_web_process_starts_warming_up_and_other_processes_do_not(tmp_path):
    # gunicorn workers and runserver import config.wsgi; management commands and workers don't.
    assert _warm_up_started(tmp_path, "import config.wsgi", ASSAY_WARM_UP_SEARCH="true")
    assert not _warm_up_started(
        tmp_path, "import django", "django.setup()", ASSAY_WARM_UP_SEARCH="true"
    )
    assert not _warm_up_started(tmp_path, "import config.wsgi", ASSAY_WARM_UP_SEARCH="false")
