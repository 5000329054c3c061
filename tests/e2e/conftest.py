"""Browser journeys: a live Assay (gunicorn, plus a Celery worker on Redis) driven by Chromium.

The server and worker see the test database (transactional_db), so a journey sets up its data
with the factories and then works only through the browser, as a person would.
"""

import os
import shutil
from pathlib import Path

import pytest

from tests import factories
from tests.services import (
    ROOT,
    AppServer,
    CeleryWorker,
    database_url_of,
    redis_url_for_tests,
    require_binary,
    service_env,
    set_password_for_servers,
)

ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "journey-password"
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip


@pytest.fixture(scope="module")
def chromium():
    """Chromium for one test module (so that Playwright is gone before other tests run).

    Playwright's sync API runs an event loop in this thread, and Django refuses ORM calls
    while one runs; the ORM calls a journey makes between browser steps are plain synchronous
    code, so the check is lifted for as long as the browser runs, and only then.
    """
    executable = require_binary("chromium", "/usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


# The light embedding model only: journeys are about what a person sees, and loading MiniLM
# in every process would cost more than the rest of a journey.
EMBEDDING = {"ASSAY_EMBEDDING_MODELS": "wordllama", "ASSAY_EMBEDDING_DEFAULT_MODEL": "wordllama"}


@pytest.fixture(scope="session")
def live_data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("live-data")


@pytest.fixture(scope="session")
def live_stack(django_db_setup, django_db_blocker, tmp_path_factory, live_data_dir):
    """gunicorn and a Celery worker on Redis, on the test database, shared by all journeys."""
    from django.db import connection

    cleanups = []
    try:
        redis_url, redis_server = redis_url_for_tests(tmp_path_factory)
        if redis_server:
            cleanups.append(redis_server.stop)
        with django_db_blocker.unblock():
            database_url = database_url_of(connection.settings_dict)
        env = service_env(
            DATABASE_URL=database_url, REDIS_URL=redis_url, ASSAY_DATA_DIR=str(live_data_dir),
            SECRET_KEY="e2e-" + "k" * 60, DEBUG="false", **EMBEDDING,
        )  # fmt: skip
        worker = CeleryWorker(env, queues=("celery",), log_path=live_data_dir / "worker.log")
        cleanups.append(worker.stop)
        worker.start()
        server = AppServer(env, workers=2, threads=4, log_path=live_data_dir / "web.log")
        cleanups.append(server.stop)
        server.start()
        server.env = env
        server.worker = worker
        yield server
    finally:
        for cleanup in reversed(cleanups):
            cleanup()


@pytest.fixture
def live(live_stack, transactional_db, settings, live_data_dir):
    """The live server; this process indexes like the servers do, into the same folder."""
    settings.ASSAY_INDEX_DIR = live_data_dir / "indexes"
    settings.ASSAY_EMBEDDING_MODELS = [EMBEDDING["ASSAY_EMBEDDING_MODELS"]]
    settings.ASSAY_EMBEDDING_DEFAULT_MODEL = EMBEDDING["ASSAY_EMBEDDING_DEFAULT_MODEL"]
    return live_stack


def person(username, role):
    """A user who can log in to the live server (see set_password_for_servers)."""
    user = factories.make_user(username=username, role=role, first_name=username.title())
    return set_password_for_servers(user, PASSWORD)


@pytest.fixture
def page(chromium):
    """A fresh browser page; fails the test on any console error (a CSP block, a JS error)."""
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    page = context.new_page()
    problems = []
    # Failed requests are reported with their address (the console message has none); a
    # browser's own favicon probe is not a page's problem.
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" and
            "Failed to load resource" not in m.text else None)  # fmt: skip
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 and
            not r.url.endswith("/favicon.ico") else None)  # fmt: skip
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.set_default_timeout(15_000)
    yield page
    context.close()
    assert not problems, f"the browser reported errors: {problems}"


def log_in(page, base_url, username, password=None):
    """Log in through the login page, as a person does."""
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password or PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/accounts/login/" not in url)


def save_screenshot(page, name, full_page=True):
    """The journey's final state: a test artifact and the README's picture."""
    ARTIFACTS.mkdir(exist_ok=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    shutil.copyfile(path, SCREENSHOTS / f"{name}.png")
    return Path(path)
