import pytest
from django.db import connection

from tests.services import AppServer, database_url_of, service_env


@pytest.fixture
def web(transactional_db, tmp_path):
    """gunicorn serving the test database, for jobs that report through the client."""
    app = AppServer(
        service_env(DATABASE_URL=database_url_of(connection.settings_dict)),
        log_path=tmp_path / "gunicorn.log",
    ).start()
    yield app
    app.stop()
