import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from tests import factories  # noqa: E402
from tests.papers.intake_support import fake_arxiv  # noqa: E402, F401  (fixture)
from tests.papers.search_support import fake_models, on_commit  # noqa: E402, F401  (fixtures)


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.ASSAY_TASKS_IN_BACKGROUND = False  # tasks run at commit, so tests see their effect
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # LocMem instances share one store per process: a throttle count or debounce key left by
    # one test must not reach the next, whatever order the tests run in.
    from django.core.cache import cache

    cache.clear()
    settings.ASSAY_INDEX_DIR = tmp_path / "indexes"
    settings.MEDIA_ROOT = tmp_path / "media"  # stored files (PDFs) of this test only
    settings.ASSAY_MODEL_CACHE_DIR = tmp_path / "models"


@pytest.fixture(scope="session", autouse=True)
def _background_thread_disconnects_before_the_test_databases_go(django_db_setup):
    """The embedded default's task thread keeps its database connection between tasks, as a
    request thread does; PostgreSQL refuses to drop a test database it is still connected to."""
    yield
    from django.db import connections

    from core import tasks

    tasks._background.submit(connections.close_all).result()


@pytest.fixture
def htmx():
    """The header htmx sends with each request: `client.get(url, headers=htmx)`."""
    return {"HX-Request": "true"}


@pytest.fixture
def alice(db):
    """A Lead: moves radar items and signs gates."""
    return factories.make_user(username="alice", role="Lead")


@pytest.fixture
def bob(db):
    """A Member: reads, writes notes, proposes."""
    return factories.make_user(username="bob", role="Member")


@pytest.fixture
def charlie(db):
    """Logged in, but in no group: sees nothing."""
    return factories.make_user(username="charlie", role=None)


@pytest.fixture
def alice_client(client, alice):
    client.force_login(alice)
    return client


@pytest.fixture
def bob_client(client, bob):
    client.force_login(bob)
    return client


@pytest.fixture
def charlie_client(client, charlie):
    client.force_login(charlie)
    return client
