"""The REST API training jobs report to: runs, metric batches, finish, artifacts, should-stop."""

import json
import math

import pytest
from django.core.cache import cache

from core.models import DeferredTask
from experiments.models import Artifact, IngestBatch, Run
from tests.api import BASE, Api
from tests.factories import (
    logged_series,
    make_criterion,
    make_experiment,
    make_run,
    make_token,
    stored_points,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The evaluation debounce lives in the cache; tests must not inherit each other's.
    cache.clear()


@pytest.fixture
def experiment():
    return make_experiment(key="EXP-12")


@pytest.fixture
def api(client, experiment):
    """A client holding a token for EXP-12: api.post(path, body) -> response."""
    _, key = make_token(experiment=experiment)
    return Api(client, key)


def create_run(api, **fields):
    body = {"name": "lora-r16-s1", "variant": "candidate", "seed": 1, **fields}
    response = api.post("/EXP-12/runs", body)
    assert response.status_code in (200, 201), response.content
    return response.json()


def batch(key="b1", n=3, metric="loss"):
    return {
        "idempotency_key": key,
        "points": [{"key": metric, "value": float(i), "step": i} for i in range(n)],
    }


def errors_of(response):
    body = response.json()
    return body["detail"], {error["field"] for error in body.get("errors", [])}


def test_create_run_with_everything_a_job_knows(api, experiment):
    run = create_run(
        api,
        params={"r": 16, "lr": 1e-4},
        git_commit="3f2a9c1",
        host="gpu-node-7",
        gpu="1x A100 80GB",
    )

    stored = Run.objects.get(pk=run["id"])
    assert stored.experiment == experiment
    assert (stored.variant, stored.seed, stored.status) == ("candidate", 1, "running")
    assert stored.params == {"r": 16, "lr": 1e-4}
    assert (stored.git_commit, stored.host, stored.gpu) == ("3f2a9c1", "gpu-node-7", "1x A100 80GB")
    assert run["experiment"] == "EXP-12"


def test_creating_a_run_again_with_its_client_key_returns_it(api):
    first = api.post("/EXP-12/runs", {"name": "r", "client_key": "abc"})
    second = api.post("/EXP-12/runs", {"name": "r", "client_key": "abc"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert Run.objects.count() == 1


def test_log_batch_then_finish(api, experiment):
    run = create_run(api)
    response = api.post(f"/EXP-12/runs/{run['id']}/metrics", batch(n=5))
    assert response.status_code == 201
    assert response.json() == {
        "run": run["id"],
        "idempotency_key": "b1",
        "points": 5,
        "duplicate": False,
    }

    finished = api.post(
        f"/EXP-12/runs/{run['id']}/finish", {"status": "finished", "summary": {"accuracy": 0.91}}
    )
    assert finished.status_code == 200
    assert finished.json()["status"] == "finished"
    assert experiment.runs.values_by_metric(["accuracy"])["accuracy"][0][1] == 0.91
    # Without a summary value the run's last logged value stands for it.
    assert experiment.runs.values_by_metric(["loss"])["loss"][0][1] == 4.0
    assert Run.objects.get().finished_at is not None


def test_key_reused_for_other_points_of_the_same_count_is_409(api):
    run = create_run(api)
    first = api.post(f"/EXP-12/runs/{run['id']}/metrics", batch(n=3))
    other = batch(n=3)
    other["points"][1]["value"] = 99.0  # same key, same count, one value different

    response = api.post(f"/EXP-12/runs/{run['id']}/metrics", other)

    assert first.status_code == 201
    assert response.status_code == 409
    assert "already used for a different batch" in response.json()["detail"]
    assert sorted(point.value for point in stored_points()) == [0.0, 1.0, 2.0]
    # The same batch sent again is still a harmless duplicate.
    assert api.post(f"/EXP-12/runs/{run['id']}/metrics", batch(n=3)).status_code == 200


def test_duplicate_batch_stores_no_duplicate_points(api):
    run = create_run(api)
    first = api.post(f"/EXP-12/runs/{run['id']}/metrics", batch(n=4))
    retry = api.post(f"/EXP-12/runs/{run['id']}/metrics", batch(n=4))

    assert (first.status_code, retry.status_code) == (201, 200)
    assert retry.json()["duplicate"] is True
    assert len(stored_points()) == 4


@pytest.mark.parametrize("encoding", ["literal", "string"])
def test_nan_and_infinity_are_accepted_stored_and_flagged(api, experiment, encoding):
    run = create_run(api)
    if encoding == "literal":
        # What Python's json.dumps writes by default.
        body = json.dumps(
            {
                "idempotency_key": "b",
                "points": [
                    {"key": "loss", "value": math.nan, "step": 0},
                    {"key": "loss", "value": math.inf, "step": 1},
                    {"key": "grad_norm", "value": -math.inf, "step": 1},
                ],
            }
        )
    else:
        body = json.dumps(
            {
                "idempotency_key": "b",
                "points": [
                    {"key": "loss", "value": "NaN", "step": 0},
                    {"key": "loss", "value": "Infinity", "step": 1},
                    {"key": "grad_norm", "value": "-Infinity", "step": 1},
                ],
            }
        )

    response = api.post(f"/EXP-12/runs/{run['id']}/metrics", body, raw=True)

    assert response.status_code == 201, response.content
    values = [value for _, value in logged_series(Run.objects.get(), "loss")]
    assert math.isnan(values[0]) and values[1] == math.inf
    assert experiment.runs.non_finite_metrics() == {"loss", "grad_norm"}


def test_lenient_forms_of_a_point_are_stored_as_the_strict_ones(api):
    # Well-formed points take a fast check; the forms it leaves to the full one ("NaN"
    # strings, an integer step written 3.0, integer values) must land as the same points.
    strict = create_run(api, name="strict", seed=1)
    lenient = create_run(api, name="lenient", seed=2)
    points = {
        strict["id"]: [
            {"key": "loss", "value": 1.0, "step": 0, "wall_time": 1700000000.5},
            {"key": "loss", "value": math.nan, "step": 3, "wall_time": None},
            {"key": "loss", "value": 2.0, "step": 4, "bucket": "long"},
        ],
        lenient["id"]: [
            {"key": "loss", "value": 1, "step": 0.0, "wall_time": 1700000000.5},
            {"key": "loss", "value": "NaN", "step": 3.0, "wall_time": None},
            {"key": "loss", "value": 2, "step": 4, "bucket": "long", "note": "ignored"},
        ],
    }
    for run_id, sent in points.items():
        response = api.post(
            f"/EXP-12/runs/{run_id}/metrics", {"idempotency_key": "b", "points": sent}
        )
        assert response.status_code == 201, response.content

    def stored(run_id):
        return [
            (p.key, p.bucket, p.step, repr(p.value), p.wall_time, type(p.step), type(p.value))
            for p in stored_points(Run.objects.get(pk=run_id), "loss")
        ]

    assert stored(lenient["id"]) == stored(strict["id"])
    assert len(stored(strict["id"])) == 3


def test_run_number_past_any_run_is_not_found(api):
    response = api.post("/EXP-12/runs/99999999999999999999/metrics", batch())
    assert response.status_code == 404
    assert not stored_points()


def test_nan_summary_is_stored_and_flagged(api, experiment):
    run = create_run(api)
    response = api.post(
        f"/EXP-12/runs/{run['id']}/finish", {"status": "failed", "summary": {"loss": "NaN"}}
    )
    assert response.status_code == 200
    assert response.json()["summary"] == {"loss": "NaN"}
    assert experiment.runs.non_finite_metrics() == {"loss"}


def test_oversized_batch_is_refused_naming_the_field_and_writes_nothing(api, settings):
    settings.ASSAY_API_MAX_BATCH_POINTS = 10
    run = create_run(api)

    response = api.post(f"/EXP-12/runs/{run['id']}/metrics", batch(n=11))

    assert response.status_code == 413
    detail, fields = errors_of(response)
    assert fields == {"points"}
    assert "at most 10 points" in detail
    assert not stored_points()
    assert not IngestBatch.objects.exists()


@pytest.mark.parametrize(
    ("point", "field"),
    [
        ({"value": 1.0, "step": 0}, "points.2.key"),
        ({"key": "loss", "step": 0}, "points.2.value"),
        ({"key": "loss", "value": "high", "step": 0}, "points.2.value"),
        ({"key": "loss", "value": "nan", "step": 0}, "points.2.value"),
        ({"key": "loss", "value": True, "step": 0}, "points.2.value"),
        ({"key": "loss", "value": 1.0, "step": "3"}, "points.2.step"),
        ({"key": "loss", "value": 1.0, "step": True}, "points.2.step"),
        ({"key": "loss", "value": 1.0, "step": -1}, "points.2.step"),
        ({"key": "loss", "value": 1.0, "step": 0, "wall_time": "NaN"}, "points.2.wall_time"),
        ({"key": "x" * 101, "value": 1.0, "step": 0}, "points.2.key"),
    ],
)
def test_malformed_point_is_refused_naming_it_and_nothing_is_written(api, point, field):
    run = create_run(api)
    body = batch(n=2)
    body["points"].append(point)

    response = api.post(f"/EXP-12/runs/{run['id']}/metrics", body)

    assert response.status_code == 422
    detail, fields = errors_of(response)
    assert field in fields, detail
    assert not stored_points()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"points": [{"key": "loss", "value": 1, "step": 0}]}, "idempotency_key"),
        ({"idempotency_key": "b", "points": []}, "points"),
        ({"idempotency_key": "b", "points": "many"}, "points"),
    ],
)
def test_malformed_batch_is_refused_naming_the_field(api, body, field):
    run = create_run(api)
    response = api.post(f"/EXP-12/runs/{run['id']}/metrics", body)
    assert response.status_code == 422
    assert field in errors_of(response)[1]


def test_body_that_is_not_json_is_a_4xx(api):
    run = create_run(api)
    response = api.post(f"/EXP-12/runs/{run['id']}/metrics", "{not json", raw=True)
    assert 400 <= response.status_code < 500


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"variant": "candidate"}, "name"),
        ({"name": "r", "seed": "1"}, "seed"),
        ({"name": "r", "seed": False}, "seed"),
        ({"name": "r", "params": [1, 2]}, "params"),
    ],
)
def test_malformed_run_is_refused_naming_the_field(api, body, field):
    response = api.post("/EXP-12/runs", body)
    assert response.status_code == 422
    assert field in errors_of(response)[1]
    assert not Run.objects.exists()


def test_idempotency_key_reused_for_other_points_is_refused(api):
    run = create_run(api)
    api.post(f"/EXP-12/runs/{run['id']}/metrics", batch(n=2))
    response = api.post(f"/EXP-12/runs/{run['id']}/metrics", batch(n=3))
    assert response.status_code == 409
    assert errors_of(response)[1] == {"idempotency_key"}
    assert len(stored_points()) == 2


def test_a_finished_run_refuses_new_batches_naming_its_status(api):
    run = create_run(api)
    stored = batch()
    assert api.post(f"/EXP-12/runs/{run['id']}/metrics", stored).status_code == 201
    api.post(f"/EXP-12/runs/{run['id']}/finish", {"status": "failed"})
    # A batch stored before the finish, replayed from a spool, is still answered as stored.
    assert api.post(f"/EXP-12/runs/{run['id']}/metrics", stored).status_code == 200
    late = api.post(f"/EXP-12/runs/{run['id']}/metrics", batch(key="late"))
    assert late.status_code == 409
    assert "is failed: it takes no more metric points" in late.json()["detail"]
    assert len(stored_points()) == 3


def test_a_finished_run_refuses_a_different_finish_and_new_artifacts(api):
    run = create_run(api)
    finish = {"status": "finished", "summary": {"accuracy": 0.9}}
    assert api.post(f"/EXP-12/runs/{run['id']}/finish", finish).status_code == 200
    assert api.post(f"/EXP-12/runs/{run['id']}/finish", finish).status_code == 200  # a retry
    rewrite = {"status": "finished", "summary": {"accuracy": 0.99}}
    refused = api.post(f"/EXP-12/runs/{run['id']}/finish", rewrite)
    assert refused.status_code == 409 and "is finished" in refused.json()["detail"]
    assert Run.objects.get().summary == {"accuracy": 0.9}
    artifact = {"uri": "s3://bucket/late.pt", "kind": "checkpoint"}
    late = api.post(f"/EXP-12/runs/{run['id']}/artifacts", artifact)
    assert late.status_code == 409 and "takes no more artifacts" in late.json()["detail"]


def test_finish_with_unknown_status_is_refused(api):
    run = create_run(api)
    response = api.post(f"/EXP-12/runs/{run['id']}/finish", {"status": "exploded"})
    assert response.status_code == 422
    assert "status" in errors_of(response)[1]
    assert Run.objects.get().status == "running"


def test_register_artifact_by_reference(api):
    run = create_run(api)
    response = api.post(
        f"/EXP-12/runs/{run['id']}/artifacts",
        {"uri": "s3://bucket/ckpt/step-9000.pt", "kind": "checkpoint", "size": 123,
         "sha256": "A" * 64},
    )  # fmt: skip
    assert response.status_code == 201, response.content
    artifact = Artifact.objects.get()
    assert (artifact.uri, artifact.kind, artifact.size) == ("s3://bucket/ckpt/step-9000.pt",
                                                            "checkpoint", 123)  # fmt: skip
    assert artifact.sha256 == "a" * 64


def test_registering_an_artifact_again_answers_200_with_the_first(api):
    run = create_run(api)
    body = {"uri": "s3://bucket/final.pt", "kind": "checkpoint"}
    first = api.post(f"/EXP-12/runs/{run['id']}/artifacts", body)
    again = api.post(f"/EXP-12/runs/{run['id']}/artifacts", body)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Artifact.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"uri": "ftp://host/file"}, 422, "uri"),
        ({"uri": "s3:///no-bucket"}, 422, "uri"),
        ({"uri": "s3://b/x", "sha256": "not-hex"}, 422, "sha256"),
        ({"uri": "s3://b/x", "size": -1}, 422, "size"),
        ({"uri": "s3://b/x", "size": "12"}, 422, "size"),
    ],
)
def test_bad_artifact_is_refused_naming_the_field(api, body, status, field):
    run = create_run(api)
    response = api.post(f"/EXP-12/runs/{run['id']}/artifacts", body)
    assert response.status_code == status
    assert field in errors_of(response)[1]
    assert not Artifact.objects.exists()


def test_should_stop_says_no_for_a_quiet_experiment(api):
    response = api.get("/EXP-12/should-stop")
    assert response.status_code == 200
    assert response.json()["stop"] is False


def test_should_stop_reports_the_experiment_verdict(
    api, experiment, django_capture_on_commit_callbacks
):
    kill = {"kind": "kill", "aggregation": "last", "comparator": "gt", "threshold": 5.0}
    make_criterion(experiment=experiment, metric="loss", **kill)
    run = create_run(api)
    diverged = {"idempotency_key": "b1", "points": [{"key": "loss", "step": 0, "value": 9.0}]}
    with django_capture_on_commit_callbacks(execute=True):  # the evaluation the batch queues
        api.post(f"/EXP-12/runs/{run['id']}/metrics", diverged)
    response = api.get("/EXP-12/should-stop")
    assert response.json() == {
        "stop": True,
        "reasons": ["Hard kill criterion tripped: last value loss of candidate > 5"],
    }


def test_batches_and_finish_queue_an_evaluation(
    api, experiment, django_capture_on_commit_callbacks
):
    run = create_run(api)
    with django_capture_on_commit_callbacks() as callbacks:
        api.post(f"/EXP-12/runs/{run['id']}/metrics", batch("b1"))
        api.post(f"/EXP-12/runs/{run['id']}/metrics", batch("b2"))  # within the debounce window
        api.post(f"/EXP-12/runs/{run['id']}/finish", {"status": "finished"})

    queued = DeferredTask.objects.values_list("task_name", "args")
    assert list(queued) == [("experiments.tasks.evaluate_experiment", [experiment.pk])] * 2
    for callback in callbacks:
        callback()
    experiment.refresh_from_db()
    assert experiment.evaluated_at is not None


def test_run_of_another_experiment_is_not_found(api):
    other_run = make_run(experiment=make_experiment(key="EXP-99"))
    response = api.post(f"/EXP-12/runs/{other_run.pk}/metrics", batch())
    assert response.status_code == 404
    assert not stored_points()


def test_openapi_document_lists_the_endpoints(client):
    schema = client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    assert f"{BASE}/{{experiment_key}}/runs/{{run_id}}/metrics" in paths
    assert f"{BASE}/{{experiment_key}}/should-stop" in paths
    metrics = paths[f"{BASE}/{{experiment_key}}/runs/{{run_id}}/metrics"]["post"]
    assert {"201", "200", "401", "403", "404", "413", "422", "429"} <= set(metrics["responses"])


@pytest.mark.parametrize("body", [[], [{"status": "finished"}], "finished", 3, None])
def test_a_body_that_is_not_a_json_object_is_refused_with_422(api, body):
    run = create_run(api)
    for path in (f"/EXP-12/runs/{run['id']}/finish", f"/EXP-12/runs/{run['id']}/artifacts"):
        response = api.post(path, body)
        assert response.status_code == 422, (path, response.content)
        assert "must be a JSON object" in errors_of(response)[0]
        assert errors_of(response)[1] == {"body"}
    assert Run.objects.get().status == "running"


def test_a_json_array_sent_as_plain_text_is_refused_too(api, client):
    # The API reads any body as JSON, whatever its content type says.
    run = create_run(api)
    response = client.post(f"{BASE}/EXP-12/runs/{run['id']}/artifacts", data="[]",
                           content_type="text/plain", **api.headers())  # fmt: skip
    assert response.status_code == 422
    assert errors_of(response)[1] == {"body"}
    assert not Artifact.objects.exists()
