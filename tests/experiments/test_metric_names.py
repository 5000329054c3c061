"""Many distinct metric names: the experiment page and gate decisions read the evidence in a
fixed number of queries, and a run is capped at ASSAY_MAX_METRICS_PER_RUN names (issue 9)."""

import json

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from experiments.models import MetricSummary, Run
from tests.factories import make_criterion, make_experiment, make_token, report_run

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _roomy_cap(settings):
    settings.ASSAY_MAX_METRICS_PER_RUN = 6_000
    cache.clear()  # the evaluation debounce lives in the cache


def _experiment_with_metrics(count):
    """Baseline and candidate runs of two seeds; the candidate runs report `count` metric
    names, half in their summaries, half logged as points.

    Only the two watched metrics are on both sides: a comparison with an empty side is cheap,
    so the test measures queries, not thousands of scipy tests.
    """
    experiment = make_experiment()
    make_criterion(experiment=experiment, metric="accuracy", threshold=0.8)
    make_criterion(experiment=experiment, metric="loss", comparator="le", threshold=2.0)
    for variant in ("baseline", "candidate"):
        fillers = count // 2 - 1 if variant == "candidate" else 0
        for seed in (1, 2):
            values = {"accuracy": 0.8 + seed / 100}
            values.update({f"summary_{n}": float(n) for n in range(fillers)})
            points = {"loss": [2.0, 1.5]}
            points.update({f"logged_{n}": [float(n)] for n in range(fillers)})
            report_run(
                experiment=experiment, variant=variant, seed=seed, values=values, points=points
            )
    return experiment


def _queries(action):
    with CaptureQueriesContext(connection) as queries:
        action()
    return len(queries)


def test_the_experiment_page_costs_the_same_queries_for_10_or_5000_metric_names(bob_client):
    few, many = _experiment_with_metrics(10), _experiment_with_metrics(5_000)

    def page(experiment):
        url = reverse("experiments:experiment_detail", args=[experiment.pk])
        return lambda: bob_client.get(url)

    assert (
        bob_client.get(reverse("experiments:experiment_detail", args=[many.pk])).status_code == 200
    )
    assert _queries(page(few)) == _queries(page(many))


def test_evaluation_and_a_gate_decision_cost_the_same_queries_for_10_or_5000_names(alice):
    few, many = _experiment_with_metrics(10), _experiment_with_metrics(5_000)
    alice.has_perm("experiments.sign_gate")  # load the permission cache before counting
    assert _queries(few.evaluate) == _queries(many.evaluate)
    assert _queries(lambda: few.decide_gate("yes", by=alice)) == _queries(
        lambda: many.decide_gate("yes", by=alice)
    )
    [snapshot] = many.gate_decisions.values_list("snapshot", flat=True)
    assert {"accuracy", "loss"} <= {c["metric"] for c in snapshot["statistics"]}


def _post(client, key, path, body):
    return client.post(
        path, json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )


def test_a_batch_past_the_metric_name_cap_gets_a_422_naming_the_cap_and_the_run(client, settings):
    settings.ASSAY_MAX_METRICS_PER_RUN = 3
    token, key = make_token()
    experiment = token.experiment
    run = Run.start(experiment, name="wide")[0]
    url = f"/api/v1/experiments/{experiment.key}/runs/{run.pk}/metrics"
    points = [{"key": f"m{n}", "step": 0, "value": 1.0} for n in range(3)]
    assert _post(client, key, url, {"idempotency_key": "a", "points": points}).status_code == 201
    more = [{"key": "m3", "step": 0, "value": 1.0}, {"key": "m0", "step": 1, "value": 2.0}]
    response = _post(client, key, url, {"idempotency_key": "b", "points": more})
    assert response.status_code == 422
    assert response.json()["detail"] == (
        f"run {run.pk} ('wide') of {experiment.key} would report 4 distinct metric names; "
        "the limit is 3 per run (ASSAY_MAX_METRICS_PER_RUN)"
    )
    # The refused point is named, so a client resends the others (m0's step 1) on their own.
    assert [error["field"] for error in response.json()["errors"]] == ["points.0.key"]
    assert sorted(MetricSummary.objects.filter(run=run).values_list("key", flat=True)) == [
        "m0",
        "m1",
        "m2",
    ]
    # Known names still come in.
    again = [{"key": "m1", "step": 1, "value": 0.5}]
    assert _post(client, key, url, {"idempotency_key": "c", "points": again}).status_code == 201


def test_a_summary_past_the_metric_name_cap_gets_a_422_and_the_run_is_not_finished(
    client, settings
):
    settings.ASSAY_MAX_METRICS_PER_RUN = 2
    token, key = make_token()
    experiment = token.experiment
    run = Run.start(experiment, name="wide")[0]
    run.log_points([{"key": "loss", "step": 0, "value": 1.0}], idempotency_key="a")
    url = f"/api/v1/experiments/{experiment.key}/runs/{run.pk}/finish"
    body = {"status": "finished", "summary": {"accuracy": 0.9, "f1": 0.8}}
    response = _post(client, key, url, body)
    assert response.status_code == 422
    assert (
        "would report 3 distinct metric names; the limit is 2 per run"
        in (response.json()["detail"])
    )
    run.refresh_from_db()
    assert (run.status, run.summary) == ("running", {})
