"""Storing reported points and reading them back through the Run QuerySet and Run.series."""

import math

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from experiments.models import Artifact, IngestBatch, MetricPoint, MetricSummary, Run
from tests.factories import logged_series, make_experiment, make_run, stored_points

pytestmark = pytest.mark.django_db


def points(key, values, start=0, bucket=""):
    return [
        {"key": key, "value": value, "step": start + i, "bucket": bucket}
        for i, value in enumerate(values)
    ]


def test_batch_is_stored_once_per_idempotency_key():
    run = make_run()
    batch, created = run.log_points(points("loss", [3.0, 2.0, 1.0]), idempotency_key="b1")
    again, created_again = run.log_points(points("loss", [3.0, 2.0, 1.0]), idempotency_key="b1")

    assert (created, created_again) == (True, False)
    assert again.pk == batch.pk
    assert len(stored_points(run)) == 3
    assert logged_series(run, "loss") == [(0, 3.0), (1, 2.0), (2, 1.0)]


def test_names_with_tabs_backslashes_and_newlines_round_trip():
    experiment = make_experiment()
    run = make_run(experiment=experiment)
    key = "eval\tloss\\ratio\nµ"
    run.log_points(
        [{"key": key, "value": 0.25, "step": 1, "bucket": "long\tinputs", "wall_time": 1.5}],
        idempotency_key="b1",
    )
    assert list(experiment.runs.values_by_metric()) == [key]
    assert experiment.runs.bucket_values(key) == [(run, "long\tinputs", 0.25)]
    assert MetricPoint.objects.get().wall_time == 1.5


def test_reused_key_with_other_points_is_refused_and_writes_nothing():
    run = make_run()
    run.log_points(points("loss", [1.0]), idempotency_key="b1")

    with pytest.raises(ValidationError) as error:
        run.log_points(points("loss", [1.0, 2.0]), idempotency_key="b1")

    assert "idempotency_key" in error.value.message_dict
    assert len(stored_points(run)) == 1


@pytest.mark.parametrize(
    "change",
    [{"key": "lossx"}, {"bucket": "long"}, {"step": 8}, {"value": -0.0}, {"value": math.nan},
     {"value": math.inf}, {"wall_time": None}, {"wall_time": 1.0000000000000002}],
)  # fmt: skip
def test_a_key_sent_again_with_any_one_field_changed_is_refused(change):
    sent = [{"key": "loss", "step": 7, "value": 0.0, "wall_time": 1.0}, *points("acc", [0.5])]
    run = make_run()
    run.log_points(sent, idempotency_key="b1")
    _, created = run.log_points([dict(point) for point in sent], idempotency_key="b1")
    assert not created
    with pytest.raises(ValidationError):
        run.log_points([{**sent[0], **change}, *sent[1:]], idempotency_key="b1")


def test_a_batch_stored_with_the_earlier_digest_is_still_recognised_when_retried():
    run = make_run()
    sent = points("loss", [1.0, math.nan, 3.0])
    batch, _ = run.log_points(sent, idempotency_key="b1")
    IngestBatch.objects.filter(pk=batch.pk).update(content_hash=IngestBatch.hash_points_v1(sent))

    again, created = run.log_points(points("loss", [1.0, math.nan, 3.0]), idempotency_key="b1")
    assert (again.pk, created) == (batch.pk, False)
    with pytest.raises(ValidationError):
        run.log_points(points("loss", [1.0, math.nan, 4.0]), idempotency_key="b1")
    assert len(stored_points(run)) == 3


def test_nan_and_infinity_are_stored_faithfully_and_flagged():
    experiment = make_experiment()
    run = make_run(experiment=experiment)
    run.log_points(
        points("loss", [1.0, math.nan, math.inf, -math.inf]) + points("accuracy", [0.5]),
        idempotency_key="b1",
    )

    stored = [value for _, value in logged_series(run, "loss")]
    assert stored[0] == 1.0
    assert math.isnan(stored[1])
    assert stored[2:] == [math.inf, -math.inf]
    assert experiment.runs.non_finite_metrics() == {"loss"}


def test_non_finite_summary_metric_is_flagged():
    experiment = make_experiment()
    run = make_run(experiment=experiment)
    run.finish(summary={"perplexity": math.inf, "accuracy": 0.9})

    run.refresh_from_db()
    assert run.summary_value("perplexity") == math.inf
    assert experiment.runs.non_finite_metrics() == {"perplexity"}


def test_run_values_prefer_the_summary_of_a_finished_run():
    experiment = make_experiment()
    finished = make_run(experiment=experiment, variant="baseline", seed=1)
    running = make_run(experiment=experiment, variant="candidate", seed=1)
    silent = make_run(experiment=experiment, variant="candidate", seed=2)
    for run in (finished, running):
        run.log_points(points("accuracy", [0.1, 0.2, 0.3]), idempotency_key="b1")
    finished.finish(summary={"accuracy": 0.95})
    # A late retry of an early batch must not replace the last value by step.
    running.log_points(points("accuracy", [0.05], start=0), idempotency_key="late")

    pairs = experiment.runs.values_by_metric(["accuracy"])["accuracy"]
    values = {run.pk: value for run, value in pairs}

    assert values == {finished.pk: 0.95, running.pk: 0.3}
    assert silent.pk not in values


def test_bucket_values_and_metric_names():
    experiment = make_experiment()
    run = make_run(experiment=experiment)
    run.log_points(
        points("accuracy", [0.7, 0.8], bucket="short")
        + points("accuracy", [0.4], bucket="long")
        + points("loss", [1.0]),
        idempotency_key="b1",
    )
    run.finish(summary={"latency_ms": 12.0})

    assert experiment.runs.bucket_values("accuracy") == [
        (run, "long", 0.4),
        (run, "short", 0.8),
    ]
    assert list(experiment.runs.values_by_metric()) == ["accuracy", "latency_ms", "loss"]
    # Bucketed points are strata, not the run's overall value.
    assert experiment.runs.values_by_metric(["accuracy"])["accuracy"] == []


def test_helpers_run_a_constant_number_of_queries():
    def query_counts(experiment):
        counts = []
        for helper in (
            lambda runs: runs.values_by_metric(["loss"]),
            lambda runs: runs.bucket_values("loss"),
            lambda runs: runs.values_by_metric(),
            lambda runs: runs.non_finite_metrics(),
        ):
            with CaptureQueriesContext(connection) as queries:
                helper(experiment.runs.all())
            counts.append(len(queries))
        return counts

    small, large = make_experiment(), make_experiment()
    make_run(experiment=small).log_points(points("loss", [1.0]), idempotency_key="a")
    for seed in range(5):
        make_run(experiment=large, seed=seed).log_points(
            points("loss", [1.0] * 500) + points("loss", [2.0] * 50, bucket="hard"),
            idempotency_key="a",
        )

    assert query_counts(small) == query_counts(large)


@pytest.mark.parametrize(
    "uri",
    ["s3://bucket/ckpt/step-9000.pt", "gs://b/x", "file:///data/x.pt", "https://h/x.bin"],
)
def test_artifact_uris_with_known_schemes_are_accepted(uri):
    artifact, created = make_run().add_artifact(
        uri=uri, kind="checkpoint", size=10, sha256="ab" * 32
    )
    assert created
    assert Artifact.objects.get(pk=artifact.pk).uri == uri


def test_the_same_artifact_registered_again_is_stored_once():
    run = make_run()
    first, _ = run.add_artifact(uri="s3://b/ckpt.pt", kind="checkpoint", size=10)
    again, created = run.add_artifact(uri="s3://b/ckpt.pt", kind="checkpoint", size=10)
    assert (again.pk, created) == (first.pk, False)
    # The file rewritten in place is another artifact.
    _, created = run.add_artifact(uri="s3://b/ckpt.pt", kind="checkpoint", size=11)
    assert created
    assert run.artifacts.count() == 2


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"uri": "ftp://host/x"}, "uri"),
        ({"uri": "s3:///no-bucket"}, "uri"),
        ({"uri": "https://[bad-ipv6/x"}, "uri"),
        ({"uri": "s3://b/x", "sha256": "xyz"}, "sha256"),
        ({"uri": "s3://b/x", "sha256": "ab" * 31}, "sha256"),
    ],
)
def test_bad_artifacts_are_refused_naming_the_field(fields, field):
    run = make_run()
    with pytest.raises(ValidationError) as error:
        run.add_artifact(**fields)
    assert field in error.value.message_dict
    assert not Artifact.objects.exists()


def test_run_start_is_idempotent_by_client_key():
    experiment = make_experiment()
    first, created = Run.start(experiment, name="r1", client_key="k1", seed=1)
    second, created_again = Run.start(experiment, name="r1", client_key="k1", seed=1)
    assert (created, created_again) == (True, False)
    assert first.pk == second.pk


def test_finish_refuses_running_as_a_final_status():
    run = make_run()
    with pytest.raises(ValidationError) as error:
        run.finish(status="running")
    assert "status" in error.value.message_dict


def test_summaries_follow_every_batch_whatever_order_the_steps_come_in():
    run = make_run()
    run.log_points(
        [{"key": "loss", "value": v, "step": s, "wall_time": 100.0 + s}
         for s, v in [(5, 5.0), (6, 6.0), (7, 7.0)]]
        + [{"key": "acc", "value": 0.5, "step": 7, "bucket": "long"}],
        idempotency_key="b1",
    )  # fmt: skip
    # Earlier steps (first_step moves back, last stays), step 7 again (a tie: the later
    # point wins), a NaN that is not last, a series new to this batch, the bucket again.
    run.log_points(
        [{"key": "loss", "value": 3.0, "step": 3},
         {"key": "loss", "value": math.nan, "step": 4},
         {"key": "loss", "value": 70.0, "step": 7, "wall_time": 170.0},
         {"key": "lr", "value": 0.1, "step": 0},
         {"key": "acc", "value": 0.75, "step": 6, "bucket": "long"}],
        idempotency_key="b2",
    )  # fmt: skip
    run.log_points([{"key": "lr", "value": math.inf, "step": 9}], idempotency_key="b3")

    summaries = {
        (s.key, s.bucket): (s.count, s.first_step, s.last_step, s.last_value, s.last_wall_time,
                            s.has_non_finite)
        for s in MetricSummary.objects.filter(run=run)
    }  # fmt: skip
    assert summaries == {
        ("loss", ""): (6, 3, 7, 70.0, 170.0, True),
        ("acc", "long"): (2, 6, 7, 0.5, None, False),
        ("lr", ""): (2, 0, 9, math.inf, None, True),
    }
    bucketed = MetricPoint.objects.filter(run=run, bucket="long").order_by("seq")
    assert list(bucketed.values_list("seq", "step", "value")) == [(0, 7, 0.5), (1, 6, 0.75)]
    assert [step for step, _ in logged_series(run, "loss")] == [3, 4, 5, 6, 7, 7]


def test_a_batch_of_thousands_of_series_is_folded_into_every_summary():
    # More series than one statement folds (2,000): each is counted, none twice.
    run = make_run()
    for batch, step in (("b1", 0), ("b2", 1)):
        run.log_points(
            [{"key": "acc", "value": step / 2, "step": step, "bucket": f"len-{i}"}
             for i in range(2500)],
            idempotency_key=batch,
        )  # fmt: skip
    summaries = MetricSummary.objects.filter(run=run)
    assert summaries.count() == 2500
    assert set(summaries.values_list("count", "first_step", "last_step", "last_value")) == {
        (2, 0, 1, 0.5)
    }
