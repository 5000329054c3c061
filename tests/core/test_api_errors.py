import pytest

from tests import factories
from tests.api import Api
from tests.factories import stored_points

pytestmark = pytest.mark.django_db


def test_an_unknown_api_path_gets_a_json_404(client):
    response = client.get("/api/v1/papers/not-a-number")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("No API endpoint at /api/v1/papers/not-a-number")


def test_an_api_body_over_the_limit_gets_a_json_413_naming_the_limit(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    token, key = factories.make_token()
    response = Api(client, key).post(
        f"/{token.experiment.key}/runs", '{"name": "' + "x" * 5000 + '"}', raw=True
    )
    assert response.status_code == 413
    assert "1000 bytes" in response.json()["detail"]


def test_pages_keep_their_html_404(bob_client):
    response = bob_client.get("/radar/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_nul_character_in_an_api_body_is_refused_naming_the_field(client):
    token, key = factories.make_token()
    response = Api(client, key).post(
        f"/{token.experiment.key}/runs", '{"name": "run-1", "params": {"lr\\u0000": 1}}', raw=True
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "params.lr\x00", "message": "NUL characters (\\u0000) are not allowed"}
    ]
    assert not token.experiment.runs.exists()


def test_a_nul_character_in_a_metric_key_is_refused_and_nothing_is_written(client):
    token, key = factories.make_token()
    run = factories.make_run(experiment=token.experiment)
    response = Api(client, key).post(
        f"/{token.experiment.key}/runs/{run.pk}/metrics",
        '{"idempotency_key": "b1", "points": [{"key": "lo\\u0000ss", "value": 1, "step": 0}]}',
        raw=True,
    )
    assert response.status_code == 422
    assert "points.0.key" in response.json()["detail"]
    assert not stored_points(run)


def test_a_nul_character_in_a_query_parameter_is_refused(bob_client):
    response = bob_client.get("/api/v1/papers/search", {"q": "attention\x00"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "q"


def test_a_nul_character_in_a_nameless_query_parameter_is_named_as_the_query_string(bob_client):
    response = bob_client.get("/api/v1/papers/?=%00")
    assert response.status_code == 422
    assert response.json()["detail"].startswith("query string: NUL characters")
