import pytest

from tests.services import AppServer, database_url_of, service_env


@pytest.fixture(scope="module")
def test_db_url(django_db_setup, django_db_blocker):
    """DATABASE_URL of the test database, for server processes started by a test."""
    from django.db import connection

    with django_db_blocker.unblock():
        return database_url_of(connection.settings_dict)


@pytest.fixture(scope="module")
def test_db_env(test_db_url, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("faults-data")

    def make(**overrides):
        """Environment for a server process that works on the test database."""
        return service_env(DATABASE_URL=test_db_url, ASSAY_DATA_DIR=str(data_dir),
                           SECRET_KEY="faults-" + "k" * 60, **overrides)  # fmt: skip

    make.data_dir = data_dir
    return make


@pytest.fixture(scope="module")
def live_server_process(test_db_env):
    """gunicorn (2 workers, as in production) on the test database, without Redis.

    Module-scoped: tests that use it also use transactional_db, which empties the tables
    after each test while the server keeps running.
    """
    server = AppServer(test_db_env(REDIS_URL=None), workers=2, threads=4,
                       log_path=test_db_env.data_dir / "web.log")  # fmt: skip
    try:
        yield server.start()
    finally:
        server.stop()
