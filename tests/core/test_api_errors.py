import pytest

from tests import factories

pytestmark = pytest.mark.django_db


def test_an_unknown_api_path_gets_a_json_404(client):
    response = client.get("/api/v1/papers/not-a-number")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("No API endpoint at /api/v1/papers/not-a-number")


def test_an_api_body_over_the_limit_gets_a_json_413_naming_the_limit(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    token, key = factories.make_token()
    response = client.post(
        f"/api/v1/experiments/{token.experiment.key}/runs",
        data='{"name": "' + "x" * 5000 + '"}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 413
    assert "1000 bytes" in response.json()["detail"]


def test_pages_keep_their_html_404(bob_client):
    response = bob_client.get("/radar/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
