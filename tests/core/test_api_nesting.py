"""A body nested a hundred thousand levels deep, to any API URL, gets a JSON 4xx (issue 9).

Python's JSON decoder recurses per level, so such a body raised RecursionError out of the API's
input middleware as a 500 before any view or authentication ran.
"""

import pytest

from tests import factories

pytestmark = pytest.mark.django_db

DEPTH = 100_000
BODIES = {
    "array": "[" * DEPTH + "]" * DEPTH,
    "object": '{"a":' * DEPTH + "1" + "}" * DEPTH,
    # A NUL escape sends an object body through the middleware's NUL check as well.
    "object with a NUL": '{"a":' * DEPTH + '"\\u0000"' + "}" * DEPTH,
}


@pytest.fixture
def urls():
    token, key = factories.make_token()
    experiment = token.experiment
    run = factories.make_run(experiment=experiment)
    paper = factories.make_paper()
    return key, [
        f"/api/v1/experiments/{experiment.key}/runs",
        f"/api/v1/experiments/{experiment.key}/runs/{run.pk}/metrics",
        f"/api/v1/experiments/{experiment.key}/runs/{run.pk}/finish",
        f"/api/v1/papers/{paper.pk}/notes",
        "/api/v1/radar/techniques/no-such/move",
        "/api/v1/no/such/url",
    ]


@pytest.mark.parametrize("shape", BODIES)
def test_a_deeply_nested_body_gets_a_json_4xx_at_every_api_url(alice_client, urls, shape):
    key, paths = urls
    for path in paths:
        response = alice_client.post(
            path,
            BODIES[shape],
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
        )
        assert 400 <= response.status_code < 500, (path, response.status_code)
        assert response.json()["detail"], path


def test_a_deeply_nested_array_is_refused_saying_why(client):
    response = client.post("/api/v1/no/such/url", BODIES["array"], content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"] == "The body is nested too deeply to read."
