"""schemathesis against the OpenAPI document a live Assay serves (issue 5, "Bad input").

At least 1,000 generated requests in all, valid and invalid, authenticated as a Lead (session
cookie and CSRF token, for the radar and papers endpoints) and with a token (experiments).
A third of the cases use the real experiment, run, technique, question and evidence in their
path, so requests reach the code behind authorisation. Every response must be below 500, and
every 4xx must carry a JSON `detail` that names the problem (for a validation error, the
field).
"""

import math

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests import factories
from tests.services import (
    AppServer,
    database_url_of,
    login,
    service_env,
    set_password_for_servers,
)

pytestmark = [pytest.mark.slow]

TOTAL_REQUESTS = 1300


def _operation_labels():
    from config.api import api

    schema = api.get_openapi_schema()
    return sorted(
        f"{method.upper()} {path}"
        for path, methods in schema["paths"].items()
        for method in methods
    )


OPERATIONS = _operation_labels()
EXAMPLES_PER_OPERATION = math.ceil(TOTAL_REQUESTS / len(OPERATIONS))
# Each operation's test checks its own share, so the thousand-request floor holds however
# the tests are selected or ordered (none of them counts on another having run).
FLOOR_PER_OPERATION = math.ceil(1000 / len(OPERATIONS))


LIMIT_REQUEST_LINE = 8190


@pytest.fixture(scope="module")
def api_server(django_db_setup, django_db_blocker, tmp_path_factory):
    from django.db import connection

    with django_db_blocker.unblock():
        database_url = database_url_of(connection.settings_dict)
    data_dir = tmp_path_factory.mktemp("fuzz-data")
    env = service_env(
        DATABASE_URL=database_url, REDIS_URL=None, ASSAY_DATA_DIR=str(data_dir),
        SECRET_KEY="fuzz-" + "k" * 60, ASSAY_TOKEN_FAILURES_PER_MINUTE="3",
    )  # fmt: skip
    server = AppServer(env, workers=2, threads=4, log_path=data_dir / "web.log")
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture
def world(api_server, transactional_db):
    lead = set_password_for_servers(factories.make_user(username="lena", role="Lead"), "pw-lena")
    technique = factories.make_technique(name="Flash Attention", ring="assess", owner=lead)
    factories.make_paper(title="FlashAttention: Fast and Memory-Efficient Exact Attention")
    experiment = factories.make_experiment(technique=technique, owner=lead)
    run = factories.make_run(experiment=experiment)
    _, key = factories.make_token(experiment=experiment)
    session = login(api_server.url, "lena", "pw-lena")
    headers = {"Authorization": f"Bearer {key}", "X-CSRFToken": session.cookies["csrftoken"]}
    question = factories.make_question()
    evidence = question.add_evidence(technique, stance="context", rationale="On the radar")
    real_path = {"experiment_key": experiment.key, "run_id": run.pk, "slug": technique.slug,
                 "question_id": question.pk, "evidence_id": evidence.pk}  # fmt: skip
    return {"session": session, "headers": headers, "real_path": real_path,
            "log_path": api_server.log_path}  # fmt: skip


@pytest.fixture(scope="module")
def served_schema(api_server):
    return schemathesis.openapi.from_url(f"{api_server.url}/api/v1/openapi.json")


def test_served_document_lists_every_operation(served_schema):
    served = sorted(
        f"{result.ok().method.upper()} {result.ok().full_path}"
        for result in served_schema.get_all_operations()
    )
    assert served == OPERATIONS


def _check_response(case, response, log_path):
    where = f"{case.method} {case.formatted_path} -> {response.status_code}"
    if response.status_code >= 500:
        # The server's traceback is in its log: show its end with the failing case.
        log = log_path.read_text(errors="replace")[-3000:] if log_path.exists() else ""
        pytest.fail(f"{where}: {response.text[:300]}\n--- server log ---\n{log}")
    if response.status_code == 414:
        # gunicorn refuses a request line over its limit before Django sees it (deploy/stack.py
        # raises the limit to gunicorn's highest, 8190 bytes): only a longer one may get this.
        line = len(f"{case.method} {response.request.url}")
        assert line > LIMIT_REQUEST_LINE, f"{where}: a {line}-byte request line was refused"
        return
    if 400 <= response.status_code < 500:
        content_type = (response.headers.get("content-type") or [""])[0]
        assert content_type.startswith("application/json"), f"{where}: {response.text[:200]}"
        body = response.json()
        detail = body.get("detail")
        assert isinstance(detail, str) and detail.strip(), f"{where}: no detail in {body}"
        if response.status_code == 422:
            fields = [e["field"] for e in body.get("errors", []) if e.get("field")]
            assert fields, f"{where}: a validation error names no field: {body}"
            assert any(field in detail for field in fields), f"{where}: {detail}"


@pytest.mark.parametrize("label", OPERATIONS)
def test_generated_requests_get_no_server_error_and_clear_4xx(served_schema, world, label):
    operation = served_schema.find_operation_by_label(label)
    path_names = {p.name for p in operation.path_parameters}
    real = {name: value for name, value in world["real_path"].items() if name in path_names}
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    if real:
        strategies += [
            operation.as_strategy(generation_mode=mode, path_parameters=real)
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        ]
    base_url = served_schema.get_base_url()
    api_server_log = world["log_path"]
    sent = []

    @settings(
        max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None, derandomize=True,
        suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate],
    )  # fmt: skip
    @given(case=st.one_of(strategies))
    def run(case):
        response = case.call(
            base_url=base_url, session=world["session"], headers=world["headers"], timeout=30
        )
        sent.append(response.status_code)
        _check_response(case, response, api_server_log)

    run()
    assert len(sent) >= FLOOR_PER_OPERATION, f"{label}: only {len(sent)} requests generated"


def test_failed_token_attempts_are_limited_and_valid_keys_still_served(api_server, world):
    """Bad keys meet the limit (3 a minute here); the job's own key keeps working throughout.

    Without Redis each of the two gunicorn workers counts in its own memory, and a burst that
    straddles a minute boundary restarts the count: up to 2 workers x 2 minutes x 3 failures
    may pass before the first 429.
    """
    url = f"{api_server.url}/api/v1/experiments/{world['real_path']['experiment_key']}/should-stop"
    bad = {"Authorization": "Bearer assay_000000000000_not-a-real-key"}
    statuses = []
    for _ in range(2 * 2 * 3 + 1):
        response = requests.get(url, headers=bad, timeout=10)
        statuses.append(response.status_code)
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429, statuses
    assert set(statuses[:-1]) <= {401}, statuses
    # The 429's own text: a further request may reach the other worker, which counts apart.
    assert "Too many failed token attempts" in response.text
    good = {"Authorization": world["headers"]["Authorization"]}
    assert all(requests.get(url, headers=good, timeout=10).status_code == 200 for _ in range(4))
