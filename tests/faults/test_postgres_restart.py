"""PostgreSQL restarts under a running app: the app reconnects without a restart of its own
(issue 5, "Faults survived"). CONN_HEALTH_CHECKS makes a dropped connection cost nothing."""

import secrets

import pytest
import requests

from tests.services import AppServer, login, manage, migrated_database, service_env

pytestmark = [pytest.mark.faults, pytest.mark.slow, pytest.mark.postgres]

PASSWORD = "restart-test-password"


@pytest.fixture(scope="module")
def app_on_own_postgres(request, tmp_path_factory):
    cleanups = []
    try:
        # Our own server (never CI's): this test stops and restarts it.
        postgres, database_url = migrated_database(request, tmp_path_factory, "assay_restart")
        data_dir = tmp_path_factory.mktemp("pg-restart")
        env = service_env(
            DATABASE_URL=database_url, REDIS_URL=None,
            ASSAY_DATA_DIR=str(data_dir), SECRET_KEY=secrets.token_urlsafe(48),
            # Long-lived connections: the case where a restart leaves every one of them dead.
            CONN_MAX_AGE="600",
        )  # fmt: skip
        manage(env, "shell", "-c",
               "from tests.factories import make_user; "
               f"make_user(username='lena', role='Lead', password='{PASSWORD}')")  # fmt: skip
        server = AppServer(env, workers=1, threads=2, log_path=data_dir / "web.log")
        cleanups.append(server.stop)
        server.start()
        yield postgres, server
    finally:
        for cleanup in reversed(cleanups):
            cleanup()


def test_app_reconnects_after_postgresql_restarts(app_on_own_postgres):
    postgres, server = app_on_own_postgres
    session = login(server.url, "lena", PASSWORD)
    # Warm every worker thread's connection, so that the restart leaves stale ones behind.
    for _ in range(4):
        assert session.get(f"{server.url}/", timeout=10).status_code == 200

    postgres.stop(mode="fast")
    # While the database is down the health check says so, for the load balancer.
    down = requests.get(f"{server.url}/healthz", timeout=10)
    assert down.status_code == 503
    assert down.json()["status"] == "error"
    postgres.start()

    # The first requests after the restart succeed: no 500 and no restart of the app.
    for _ in range(4):
        page = session.get(f"{server.url}/", timeout=10)
        assert page.status_code == 200
        assert "lena" in page.text  # the session (in the database) survived
    assert requests.get(f"{server.url}/healthz", timeout=10).json()["status"] == "ok"
    # Writes work too: a fresh login writes a session row.
    fresh = login(server.url, "lena", PASSWORD)
    assert fresh.get(f"{server.url}/", timeout=10).status_code == 200
    assert server.process.poll() is None


def test_app_survives_an_immediate_postgresql_crash(app_on_own_postgres):
    postgres, server = app_on_own_postgres
    session = login(server.url, "lena", PASSWORD)
    assert session.get(f"{server.url}/", timeout=10).status_code == 200
    # "immediate" is a crash: no clean shutdown, clients see the connection drop mid-stream.
    postgres.stop(mode="immediate")
    postgres.start()
    for _ in range(4):
        assert session.get(f"{server.url}/", timeout=10).status_code == 200
    assert server.process.poll() is None
