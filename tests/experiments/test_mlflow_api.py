"""The MLflow-compatible API under /mlflow: MLflow's JSON shapes, limits and error codes, on
the native API's guarantees (retried batches stored once, NaN kept and flagged, evaluation,
should-stop, closed experiments)."""

import json
import math

import pytest
from django.core.cache import cache
from django.test import Client

from experiments import mlflow_api
from experiments.mlflow_protocol import make_page_token
from experiments.models import Artifact, IngestBatch, MetricSummary, Run
from tests.factories import (
    make_criterion,
    make_experiment,
    make_run,
    make_token,
    report_run,
    stored_points,
)

pytestmark = pytest.mark.django_db

API = "/mlflow/api/2.0/mlflow"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()  # the evaluation debounce and the token-failure counts live there


@pytest.fixture
def experiment():
    return make_experiment(key="EXP-12")


@pytest.fixture
def mlflow(client, experiment):
    return Mlflow(client, make_token(experiment=experiment)[1])


class Mlflow:
    def __init__(self, client, key):
        self.client, self.key = client, key

    def _headers(self):
        return {"HTTP_AUTHORIZATION": f"Bearer {self.key}"} if self.key else {}

    def post(self, endpoint, body=None, raw=None):
        data = raw if raw is not None else json.dumps(body or {})
        return self.client.post(
            f"{API}/{endpoint}", data=data, content_type="application/json", **self._headers()
        )

    def get(self, endpoint, **params):
        return self.client.get(f"{API}/{endpoint}", params, **self._headers())

    def create_run(self, **body):
        body.setdefault("experiment_id", "EXP-12")
        response = self.post("runs/create", body)
        assert response.status_code == 200, response.content
        return response.json()["run"]


def strict_json(response):
    """The body as JSON with no NaN or Infinity literals (MLflow's client parses strictly)."""

    def refuse(literal):
        raise AssertionError(f"bare {literal} in {response.content[:200]!r}")

    return json.loads(response.content, parse_constant=refuse)


def error(response, status, code):
    assert response.status_code == status, response.content
    body = strict_json(response)
    assert set(body) == {"error_code", "message"} and body["error_code"] == code, body
    return body["message"]


def metric(key="loss", value=0.5, step=0, timestamp=1_700_000_000_000):
    return {"key": key, "value": value, "step": step, "timestamp": timestamp}


def tags_of(run_json):
    return {tag["key"]: tag["value"] for tag in run_json["data"]["tags"]}


# --- experiments and tokens ---


def test_the_tokens_experiment_resolves_by_name_and_id(mlflow):
    body = strict_json(mlflow.get("experiments/get-by-name", experiment_name="EXP-12"))
    assert body["experiment"]["experiment_id"] == "EXP-12"
    assert body["experiment"]["lifecycle_stage"] == "active"
    for experiment_id in ("EXP-12", "0"):  # "0": MLflow's default experiment
        response = mlflow.get("experiments/get", experiment_id=experiment_id)
        assert response.json()["experiment"]["name"] == "EXP-12"


def test_another_name_is_not_found_and_never_created(mlflow):
    other = make_experiment(key="EXP-99")
    message = error(
        mlflow.get("experiments/get-by-name", experiment_name="EXP-99"),
        404,
        "RESOURCE_DOES_NOT_EXIST",
    )
    assert "EXP-12" in message
    error(mlflow.get("experiments/get", experiment_id="EXP-99"), 404, "RESOURCE_DOES_NOT_EXIST")
    message = error(mlflow.post("experiments/create", {"name": "my-exp"}), 403, "PERMISSION_DENIED")
    assert "mlflow.set_experiment('EXP-12')" in message
    error(mlflow.post("experiments/create", {"name": "EXP-12"}), 400, "RESOURCE_ALREADY_EXISTS")
    assert not Run.objects.filter(experiment=other).exists()
    response = mlflow.post("runs/create", {"experiment_id": "EXP-99"})
    error(response, 404, "RESOURCE_DOES_NOT_EXIST")


def test_no_token_or_a_bad_one_is_unauthenticated_without_a_login_redirect(client, settings):
    settings.ASSAY_TOKEN_FAILURES_PER_MINUTE = 2
    message = error(Mlflow(client, None).get("runs/get", run_id="1"), 401, "UNAUTHENTICATED")
    assert "MLFLOW_TRACKING_TOKEN" in message
    bad = Mlflow(client, "assay_nope_nope")
    for _ in range(2):
        assert "MLFLOW_TRACKING_TOKEN" in error(
            bad.get("runs/get", run_id="1"), 401, "UNAUTHENTICATED"
        )
    error(bad.get("runs/get", run_id="1"), 429, "REQUEST_LIMIT_EXCEEDED")


def test_csrf_is_not_asked_of_token_requests(experiment):
    client = Mlflow(Client(enforce_csrf_checks=True), make_token(experiment=experiment)[1])
    assert client.create_run()["info"]["status"] == "RUNNING"


def test_a_read_only_token_reads_but_does_not_write(client, experiment):
    run = make_run(experiment=experiment)
    reader = Mlflow(client, make_token(experiment=experiment, read_only=True)[1])
    assert reader.get("runs/get", run_id=str(run.pk)).status_code == 200
    error(
        reader.post("runs/log-batch", {"run_id": str(run.pk), "metrics": [metric()]}),
        403,
        "PERMISSION_DENIED",
    )
    error(reader.post("runs/create", {"experiment_id": "EXP-12"}), 403, "PERMISSION_DENIED")


# --- runs ---


def test_create_maps_tags_to_the_runs_fields(mlflow):
    run_json = mlflow.create_run(
        run_name="lora-r16",
        start_time=1_700_000_000_000,
        user_id="ada",
        tags=[
            {"key": "assay.variant", "value": "candidate"},
            {"key": "assay.seed", "value": "3"},
            {"key": "mlflow.source.git.commit", "value": "abc123"},
            {"key": "assay.host", "value": "gpu-7"},
        ],
    )
    run = Run.objects.get()
    assert (run.name, run.variant, run.seed, run.git_commit, run.host) == (
        "lora-r16",
        "candidate",
        3,
        "abc123",
        "gpu-7",
    )
    assert run.started_at.timestamp() == 1_700_000_000
    info = run_json["info"]
    assert info["run_id"] == info["run_uuid"] == str(run.pk)
    assert (info["experiment_id"], info["status"], info["user_id"]) == ("EXP-12", "RUNNING", "ada")
    assert info["start_time"] == 1_700_000_000_000 and "end_time" not in info
    assert info["artifact_uri"] == f"mlflow-artifacts:/EXP-12/{run.pk}/artifacts"
    tags = tags_of(run_json)
    assert tags["assay.should_stop"] == "false" and tags["mlflow.runName"] == "lora-r16"


def test_platform_tags_map_to_the_runs_platform_fields(mlflow):
    tags = {"assay.accelerator_vendor": "amd", "assay.accelerator": "MI300X",
            "assay.accelerator_count": "8", "assay.runtime": "rocm",
            "assay.runtime_version": "6.2.41133", "assay.precision": "BF16",
            "assay.framework": "torch", "assay.framework_version": "2.5.1"}  # fmt: skip
    mlflow.create_run(tags=[{"key": key, "value": value} for key, value in tags.items()])
    run = Run.objects.get()
    assert run.platform == "AMD MI300X · bf16"
    assert (run.accelerator_count, run.runtime, run.runtime_version) == (8, "rocm", "6.2.41133")
    # A tag set later (MLflow's set-tag) changes the field too.
    response = mlflow.post("runs/set-tag", {"run_id": str(run.pk), "key": "assay.precision",
                                            "value": "fp8"})  # fmt: skip
    assert response.status_code == 200, response.content
    run.refresh_from_db()
    assert run.precision == "fp8"


@pytest.mark.parametrize(
    ("tag", "value", "message"),
    [
        ("assay.precision", "fp7", "The tag assay.precision: "),
        ("assay.accelerator_count", "eight", "assay.accelerator_count must be a whole number"),
        ("assay.driver_version", "55 0", "The tag assay.driver_version"),
    ],
)
def test_a_bad_platform_tag_is_an_invalid_parameter(mlflow, tag, value, message):
    response = mlflow.post("runs/create", {"experiment_id": "EXP-12",
                                           "tags": [{"key": tag, "value": value}]})  # fmt: skip
    assert message in error(response, 400, "INVALID_PARAMETER_VALUE")
    assert not Run.objects.exists()


def test_variant_and_seed_come_from_params_logged_later(mlflow):
    run_id = mlflow.create_run()["info"]["run_id"]
    params = [{"key": "variant", "value": "baseline"}, {"key": "seed", "value": "2"}]
    assert mlflow.post("runs/log-batch", {"run_id": run_id, "params": params}).status_code == 200
    run = Run.objects.get()
    assert (run.variant, run.seed, run.params) == (
        "baseline",
        2,
        {"variant": "baseline", "seed": "2"},
    )
    error(
        mlflow.post("runs/log-parameter", {"run_id": run_id, "key": "seed", "value": "x"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_log_batch_stores_metrics_params_and_tags_and_a_retry_stores_nothing_twice(mlflow):
    run_id = mlflow.create_run()["info"]["run_id"]
    body = {
        "run_id": run_id,
        "metrics": [metric("loss", 0.9, 0), metric("loss", 0.5, 1), metric("accuracy", 0.7, 1)],
        "params": [{"key": "lr", "value": "0.01"}],
        "tags": [{"key": "team", "value": "platform"}],
    }
    for _ in range(3):  # MLflow's client retries after a 5xx or a dropped connection
        response = mlflow.post("runs/log-batch", body)
        assert (response.status_code, strict_json(response)) == (200, {})
    assert len(stored_points()) == 3 and IngestBatch.objects.count() == 1
    got = strict_json(mlflow.get("runs/get", run_id=run_id))["run"]
    latest = {m["key"]: (m["value"], m["step"]) for m in got["data"]["metrics"]}
    assert latest == {"loss": (0.5, 1), "accuracy": (0.7, 1)}
    assert got["data"]["metrics"][0]["timestamp"] == 1_700_000_000_000
    assert got["data"]["params"] == [{"key": "lr", "value": "0.01"}]
    assert tags_of(got)["team"] == "platform"
    # The same values in another batch (another step) are new points.
    mlflow.post("runs/log-batch", {"run_id": run_id, "metrics": [metric("loss", 0.5, 2)]})
    assert len(stored_points()) == 4


def test_a_param_keeps_its_first_value_as_in_mlflow(mlflow):
    run_id = mlflow.create_run()["info"]["run_id"]
    mlflow.post("runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.01"})
    assert (
        mlflow.post(
            "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.01"}
        ).status_code
        == 200
    )
    message = error(
        mlflow.post(
            "runs/log-batch",
            {"run_id": run_id, "params": [{"key": "lr", "value": "0.1"}], "metrics": [metric()]},
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "Changing param values is not allowed" in message
    assert not stored_points()  # all or nothing


@pytest.mark.parametrize("endpoint", ["runs/log-batch", "runs/log-metric"])
def test_points_for_a_run_the_token_cannot_reach_are_not_found_and_not_stored(mlflow, endpoint):
    other = make_run(experiment=make_experiment(key="EXP-99"))
    for run_id in (str(other.pk), "999999", "run-7", "99999999999999999999"):
        if endpoint == "runs/log-batch":
            body = {"run_id": run_id, "metrics": [metric()]}
        else:
            body = {"run_id": run_id, **metric()}
        message = error(mlflow.post(endpoint, body), 404, "RESOURCE_DOES_NOT_EXIST")
        assert run_id in message and "EXP-12" in message
    # A batch with nothing to log still names a run that must exist.
    error(mlflow.post("runs/log-batch", {"run_id": str(other.pk)}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert not stored_points()


def test_set_tag_log_metric_and_rename(mlflow):
    run_id = mlflow.create_run(run_name="first")["info"]["run_id"]
    assert (
        mlflow.post(
            "runs/set-tag", {"run_id": run_id, "key": "note", "value": "warm start"}
        ).status_code
        == 200
    )
    assert mlflow.post("runs/log-metric", {"run_id": run_id, **metric("loss", 1.5, 4)}).json() == {}
    response = mlflow.post("runs/update", {"run_id": run_id, "run_name": "second"})
    assert response.json()["run_info"]["run_name"] == "second"
    run = Run.objects.get()
    assert (run.name, run.tags["note"], stored_points()[0].step) == (
        "second",
        "warm start",
        4,
    )


PARAMS_51 = [{"key": f"p{i}", "value": "1"} for i in range(51)]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"metrics": [metric(step=i) for i in range(1001)]}, "at most 1000 metrics"),
        ({"params": [{"key": f"p{i}", "value": "1"} for i in range(101)]}, "at most 100 params"),
        ({"tags": [{"key": f"t{i}", "value": "1"} for i in range(101)]}, "at most 100 tags"),
        ({"metrics": [metric(step=i) for i in range(950)], "params": PARAMS_51},
         "at most 1000 metrics, params"),
        ({"params": [{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]}, "Duplicate"),
        ({"params": [{"key": "k" * 251, "value": "1"}]}, "maximum length of 250"),
        ({"params": [{"key": "k", "value": "v" * 6001}]}, "maximum length of 6000"),
        ({"tags": [{"key": "k", "value": "v" * 8001}]}, "maximum length of 8000"),
        ({"metrics": [metric(key="m" * 101)]}, "maximum length of 100"),
        ({"metrics": [metric(key="bad$name")]}, "Names may only contain"),
        ({"metrics": [metric(key="../up")]}, "resolve to other names"),
        ({"metrics": [metric(value="high")]}, "valid double"),
        ({"metrics": [metric(value=True)]}, "valid double"),
        ({"metrics": [{"key": "loss", "value": 1.0}]}, "metrics[0].timestamp"),
        ({"metrics": [metric(step=-1)]}, "step"),
        ({"metrics": [metric(value=10**400)]}, "valid double"),
        ({"metrics": "loss"}, "must be a list"),
    ],
)  # fmt: skip
def test_mlflows_limits_are_enforced_with_its_error_code(mlflow, body, words):
    run_id = mlflow.create_run()["info"]["run_id"]
    message = error(
        mlflow.post("runs/log-batch", {"run_id": run_id, **body}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert words in message
    assert not stored_points() and Run.objects.get().params == {}


def test_too_many_metric_names_is_a_resource_limit(mlflow, settings):
    settings.ASSAY_MAX_METRICS_PER_RUN = 2
    run_id = mlflow.create_run()["info"]["run_id"]
    body = {"run_id": run_id, "metrics": [metric("a"), metric("b"), metric("c")]}
    message = error(mlflow.post("runs/log-batch", body), 400, "RESOURCE_LIMIT_EXCEEDED")
    assert "ASSAY_MAX_METRICS_PER_RUN" in message


def test_nan_and_infinity_are_stored_flagged_and_sent_back_as_protobuf_strings(mlflow):
    run_id = mlflow.create_run()["info"]["run_id"]
    body = {
        "run_id": run_id,
        "metrics": [
            metric("loss", "NaN", 0),
            metric("loss", "Infinity", 1),
            metric("grad", "-Infinity", 1),
        ],
    }
    assert mlflow.post("runs/log-batch", body).status_code == 200
    values = [point.value for point in sorted(stored_points(), key=lambda p: (p.key, p.step))]
    assert values[0] == -math.inf and math.isnan(values[1]) and values[2] == math.inf
    assert MetricSummary.objects.filter(has_non_finite=True).count() == 2
    got = strict_json(mlflow.get("runs/get", run_id=run_id))["run"]
    assert {m["key"]: m["value"] for m in got["data"]["metrics"]} == {
        "loss": "Infinity",
        "grad": "-Infinity",
    }
    assert tags_of(got)["assay.non_finite_metrics"] == "grad,loss"
    history = strict_json(mlflow.get("metrics/get-history", run_id=run_id, metric_key="loss"))
    assert [m["value"] for m in history["metrics"]] == ["NaN", "Infinity"]


def test_metric_history_is_paged_and_never_unbounded(mlflow, monkeypatch):
    run_id = mlflow.create_run()["info"]["run_id"]
    metrics = [metric("loss", step / 10, step) for step in range(7)]
    mlflow.post("runs/log-batch", {"run_id": run_id, "metrics": metrics})
    steps, token = [], None
    while True:
        params = {"run_id": run_id, "metric_key": "loss", "max_results": 3}
        body = strict_json(
            mlflow.get("metrics/get-history", **params, **({"page_token": token} if token else {}))
        )
        assert len(body["metrics"]) <= 3
        steps += [m["step"] for m in body["metrics"]]
        token = body.get("next_page_token")
        if not token:
            break
    assert steps == list(range(7))
    monkeypatch.setattr(mlflow_api, "HISTORY_PAGE", 4)
    body = mlflow.get("metrics/get-history", run_id=run_id, metric_key="loss").json()
    assert len(body["metrics"]) == 4 and body["next_page_token"]
    big = mlflow.get("metrics/get-history", run_id=run_id, metric_key="loss", max_results=10**9)
    assert len(big.json()["metrics"]) == 4
    error(
        mlflow.get("metrics/get-history", run_id=run_id, metric_key="loss", page_token="zz"),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    # A position no page ends at (past int64, or before the first point) is not a token either.
    for seq in (2**70, 2**63 - 1 + 2**13, -2, -(2**70), True, 1.5):
        forged = make_page_token({"bucket": "", "seq": seq})
        error(
            mlflow.get("metrics/get-history", run_id=run_id, metric_key="loss", page_token=forged),
            400,
            "INVALID_PARAMETER_VALUE",
        )


# --- ending runs, evaluation, should-stop, closed experiments ---


@pytest.mark.parametrize(
    ("mlflow_status", "status"),
    [("FINISHED", "finished"), ("FAILED", "failed"), ("KILLED", "killed")],
)
def test_update_ends_the_run_with_assays_status(mlflow, mlflow_status, status):
    run_id = mlflow.create_run()["info"]["run_id"]
    body = {"run_id": run_id, "status": mlflow_status, "end_time": 1_700_000_001_000}
    info = strict_json(mlflow.post("runs/update", body))["run_info"]
    assert info["status"] == mlflow_status and info["end_time"]
    assert Run.objects.get().status == status
    assert mlflow.post("runs/update", body).status_code == 200  # a retry changes nothing
    other = "FAILED" if mlflow_status != "FAILED" else "FINISHED"
    error(mlflow.post("runs/update", {**body, "status": other}), 409, "RESOURCE_CONFLICT")
    error(
        mlflow.post("runs/log-batch", {"run_id": run_id, "metrics": [metric()]}),
        409,
        "RESOURCE_CONFLICT",
    )
    error(mlflow.post("runs/update", {**body, "status": "DONE"}), 400, "INVALID_PARAMETER_VALUE")


def test_criteria_are_evaluated_and_should_stop_is_a_tag_on_the_run(
    mlflow, experiment, django_capture_on_commit_callbacks
):
    kill = make_criterion(
        experiment=experiment,
        kind="kill",
        severity="hard",
        metric="loss",
        aggregation="mean",
        comparator="ge",
        threshold=2,
        min_seeds=1,
    )
    run_id = mlflow.create_run(tags=[{"key": "assay.variant", "value": "candidate"}])["info"][
        "run_id"
    ]
    mlflow.post("runs/log-batch", {"run_id": run_id, "metrics": [metric("loss", 0.5)]})
    tags = tags_of(mlflow.get("runs/get", run_id=run_id).json()["run"])
    assert (tags["assay.should_stop"], tags["assay.stop_reasons"]) == ("false", "")
    cache.clear()  # past the evaluation debounce
    with django_capture_on_commit_callbacks(execute=True):
        mlflow.post("runs/log-batch", {"run_id": run_id, "metrics": [metric("loss", 9.0, 1)]})
    kill.refresh_from_db()
    assert kill.result == "holds"
    tags = tags_of(mlflow.get("runs/get", run_id=run_id).json()["run"])
    assert tags["assay.should_stop"] == "true"
    assert "Hard kill criterion tripped: mean loss of candidate ≥ 2" in tags["assay.stop_reasons"]
    with django_capture_on_commit_callbacks(execute=True):
        mlflow.post("runs/update", {"run_id": run_id, "status": "KILLED"})
    assert Run.objects.get().status == "killed"
    kill.refresh_from_db()
    assert kill.evaluated_at is not None


def test_a_closed_experiment_takes_no_new_runs_or_points_but_runs_still_end(mlflow, experiment):
    run_id = mlflow.create_run()["info"]["run_id"]
    experiment.status = "killed"
    experiment.save()
    message = error(
        mlflow.post("runs/create", {"experiment_id": "EXP-12"}), 409, "RESOURCE_CONFLICT"
    )
    assert message == experiment.closed_message()
    error(
        mlflow.post("runs/log-batch", {"run_id": run_id, "metrics": [metric()]}),
        409,
        "RESOURCE_CONFLICT",
    )
    tags = tags_of(mlflow.get("runs/get", run_id=run_id).json()["run"])
    assert tags["assay.should_stop"] == "true"
    assert mlflow.post("runs/update", {"run_id": run_id, "status": "KILLED"}).status_code == 200
    assert Run.objects.get().status == "killed"


# --- search ---


def test_search_filters_on_params_tags_status_and_metrics(mlflow, experiment):
    for seed, variant in ((1, "baseline"), (2, "candidate"), (3, "candidate")):
        run_id = mlflow.create_run(
            run_name=f"{variant}-{seed}", tags=[{"key": "assay.variant", "value": variant}]
        )["info"]["run_id"]
        mlflow.post(
            "runs/log-batch",
            {
                "run_id": run_id,
                "params": [{"key": "seed", "value": str(seed)}],
                "metrics": [metric("loss", seed / 10)],
            },
        )
    mlflow.post("runs/update", {"run_id": run_id, "status": "FINISHED"})
    make_run(experiment=make_experiment(key="EXP-99"), name="elsewhere")

    def names(filter_string="", **body):
        response = mlflow.post(
            "runs/search", {"experiment_ids": ["EXP-12"], "filter": filter_string, **body}
        )
        assert response.status_code == 200, response.content
        return [run["info"]["run_name"] for run in strict_json(response).get("runs", [])]

    assert names() == ["candidate-3", "candidate-2", "baseline-1"]
    assert names("tags.\"assay.variant\" = 'candidate'") == ["candidate-3", "candidate-2"]
    assert names("params.seed = '2'") == ["candidate-2"]
    assert names("attributes.status = 'FINISHED'") == ["candidate-3"]
    assert names("status != 'FINISHED' and metrics.loss < 0.15") == ["baseline-1"]
    assert names("attributes.run_name LIKE 'cand%'", order_by=["metrics.loss ASC"]) == [
        "candidate-2",
        "candidate-3",
    ]
    assert names(experiment_ids=["EXP-99"]) == []
    first = strict_json(
        mlflow.post("runs/search", {"experiment_ids": ["EXP-12"], "max_results": 2})
    )
    second = mlflow.post(
        "runs/search",
        {"experiment_ids": ["EXP-12"], "max_results": 2, "page_token": first["next_page_token"]},
    ).json()
    assert len(first["runs"]) == 2 and [r["info"]["run_name"] for r in second["runs"]] == [
        "baseline-1"
    ]
    bad_filters = ("params.seed ~ 2", "metrics.loss = 'x'", "bogus.x = '1'",
                   "params.a = '1' OR x", "metrics.loss < 1.2.3")  # fmt: skip
    for bad in bad_filters:
        error(
            mlflow.post("runs/search", {"experiment_ids": ["EXP-12"], "filter": bad}),
            400,
            "INVALID_PARAMETER_VALUE",
        )


# --- artifacts ---


def test_search_refuses_an_order_by_that_is_not_text(mlflow):
    body = {"experiment_ids": ["EXP-12"], "order_by": [{"key": "x"}]}
    error(mlflow.post("runs/search", body), 400, "INVALID_PARAMETER_VALUE")


def test_artifacts_register_by_uri_in_the_teams_store(mlflow, settings):
    settings.ASSAY_MLFLOW_ARTIFACT_ROOT = "s3://team-bucket/mlflow"
    run = mlflow.create_run()
    run_id = run["info"]["run_id"]
    assert run["info"]["artifact_uri"] == f"s3://team-bucket/mlflow/EXP-12/{run_id}/artifacts"
    uri = f"{run['info']['artifact_uri']}/model.pt"
    body = {"run_id": run_id, "key": "assay.artifact.checkpoint", "value": uri}
    assert mlflow.post("runs/set-tag", body).status_code == 200
    assert mlflow.post("runs/set-tag", body).status_code == 200  # a retry registers it once
    artifact = Artifact.objects.get()
    assert (artifact.uri, artifact.kind, artifact.run_id) == (uri, "checkpoint", int(run_id))
    at_create = mlflow.create_run(tags=[{"key": "assay.artifact.dataset", "value": "gs://d/x"}])
    assert Artifact.objects.get(run_id=at_create["info"]["run_id"]).kind == "dataset"
    bad = {**body, "value": "ftp://nowhere/x"}
    assert "URI scheme" in error(mlflow.post("runs/set-tag", bad), 400, "INVALID_PARAMETER_VALUE")


def test_the_proxied_artifact_upload_is_refused_saying_what_to_do(mlflow):
    response = mlflow.client.put(
        "/mlflow/api/2.0/mlflow-artifacts/artifacts/EXP-12/1/a/x.txt", data=b"bytes"
    )
    assert "ASSAY_MLFLOW_ARTIFACT_ROOT" in error(response, 501, "NOT_IMPLEMENTED")


# --- bad requests ---


def test_bad_requests_get_mlflow_errors_never_a_500(mlflow, experiment):
    run_id = mlflow.create_run()["info"]["run_id"]
    other = make_run(experiment=make_experiment(key="EXP-99"))
    for run in ("999999", "abc", str(other.pk), "1" * 40):
        error(mlflow.get("runs/get", run_id=run), 404, "RESOURCE_DOES_NOT_EXIST")
    error(mlflow.get("runs/get"), 400, "INVALID_PARAMETER_VALUE")
    error(mlflow.post("runs/log-batch", raw="{not json"), 400, "INVALID_PARAMETER_VALUE")
    error(mlflow.post("runs/log-batch", raw="[1, 2]"), 400, "INVALID_PARAMETER_VALUE")
    error(mlflow.post("runs/log-batch", raw="[" * 100_000), 400, "INVALID_PARAMETER_VALUE")
    nul = {"run_id": run_id, "tags": [{"key": "note", "value": "a\x00b"}]}
    error(mlflow.post("runs/log-batch", nul), 400, "INVALID_PARAMETER_VALUE")
    error(
        mlflow.post("runs/create", {"experiment_id": "EXP-12", "start_time": "soon"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    error(
        mlflow.post("runs/create", {"experiment_id": "EXP-12", "run_name": "n" * 201}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    error(mlflow.post("runs/get", {"run_id": run_id}), 404, "ENDPOINT_NOT_FOUND")
    error(mlflow.post("runs/log-inputs", {"run_id": run_id}), 404, "ENDPOINT_NOT_FOUND")
    report_run(experiment=experiment, values={"accuracy": 0.9})  # a native run reads too
    assert mlflow.post("runs/search", {"experiment_ids": ["EXP-12"]}).status_code == 200


def test_the_view_run_link_mlflow_prints_leads_to_the_experiment_pages(client):
    response = client.get("/mlflow/")
    assert response.status_code == 302 and response["Location"] == "/experiments/"
