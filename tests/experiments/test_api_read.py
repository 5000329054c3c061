"""The read API for CI and jobs (issue 8 §7): GET /api/v1/experiments/{key} with the
experiment's token, read-only tokens too."""

import datetime

import pytest
from django.utils import timezone

from config.api import api as ninja_api
from experiments.models import GateDecision
from tests.factories import make_criterion, make_experiment, make_token, report_run

pytestmark = pytest.mark.django_db

BASE = "/api/v1/experiments"
TODAY = timezone.localdate()


def _get(client, key, token_key):
    return client.get(f"{BASE}/{key}", HTTP_AUTHORIZATION=f"Bearer {token_key}")


def _experiment_with_a_decision(lead):
    experiment = make_experiment(key="EXP-40", title="LoRA r16")
    experiment.set_timebox("discovery", starts_on=TODAY - datetime.timedelta(days=3),
                           deadline=TODAY + datetime.timedelta(days=11))  # fmt: skip
    make_criterion(experiment=experiment, threshold=0.8)
    make_criterion(experiment=experiment, kind="kill", metric="loss", aggregation="last",
                   comparator="gt", threshold=5)  # fmt: skip
    report_run(experiment=experiment, seed=1, values={"accuracy": 0.9, "loss": 0.4})
    experiment.evaluate()
    experiment.decide_gate("yes", by=lead, notes="Clear win")
    # The Validation stage gets its own criterion, not yet evaluated.
    make_criterion(experiment=experiment, metric="latency_ms", comparator="le", threshold=50)
    return experiment


def test_read_only_token_reads_stage_timebox_criteria_per_stage_and_decisions(client, alice):
    experiment = _experiment_with_a_decision(alice)
    _, key = make_token(experiment=experiment, read_only=True)
    response = _get(client, "EXP-40", key)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["key"], body["stage"], body["status"]) == ("EXP-40", "validation", "active")
    assert body["timebox"]["stage"] == "validation" and body["timebox"]["expired"] is False
    assert [t["stage"] for t in body["timeboxes"]] == ["discovery", "validation"]
    stages = {stage["stage"]: stage for stage in body["stages"]}
    assert list(stages) == ["discovery", "validation", "integration"]
    discovery = stages["discovery"]
    assert discovery["frozen"] is True and discovery["success_met"] is True
    assert discovery["hard_kill_tripped"] is False
    success, kill = sorted(discovery["criteria"], key=lambda c: c["kind"] != "success")
    assert (success["statement"], success["label"]) == ("mean accuracy of candidate ≥ 0.8", "met")
    assert success["observed"] == pytest.approx(0.9) and success["detail"]
    assert (kill["severity"], kill["label"]) == ("hard", "clear")
    validation = stages["validation"]
    assert [c["statement"] for c in validation["criteria"]] == ["mean latency_ms of candidate ≤ 50"]
    assert validation["criteria"][0]["result"] == "pending"
    assert validation["frozen"] is False and validation["success_met"] is False
    assert stages["integration"]["criteria"] == []
    [decision] = body["gate_decisions"]
    assert (decision["stage"], decision["decision"], decision["decided_by"]) == (
        "discovery", "yes", "alice",
    )  # fmt: skip
    assert decision["against_evidence"] is False and decision["blockers"] == []
    assert decision["memos"]["executive"].startswith("We evaluated ")
    assert "## Criteria" in decision["memos"]["engineering"]
    assert "What this technique does" in decision["memos"]["product"]


def test_flags_and_a_tripped_hard_kill_are_visible_to_ci(client):
    experiment = make_experiment(key="EXP-41")
    make_criterion(experiment=experiment, kind="kill", metric="loss", aggregation="last",
                   comparator="gt", threshold=5)  # fmt: skip
    report_run(experiment=experiment, values={"loss": 9.0})
    experiment.evaluate()
    _, key = make_token(experiment=experiment)
    body = _get(client, "EXP-41", key).json()
    assert body["flags"] == ["Hard kill criterion tripped: last value loss of candidate > 5"]
    assert body["stages"][0]["hard_kill_tripped"] is True


def test_a_decision_against_the_evidence_says_so_with_reason_and_blockers(client, alice):
    experiment = make_experiment(key="EXP-42")
    GateDecision.objects.create(
        experiment=experiment, stage="discovery", round=1, decision="yes", question="?",
        decided_by=alice, snapshot={"criteria": [], "statistics": [], "flags": [],
        "override": {"reason": "Partner deadline", "blockers": ["The stage has no criteria"]}},
    )  # fmt: skip
    _, key = make_token(experiment=experiment, read_only=True)
    [decision] = _get(client, "EXP-42", key).json()["gate_decisions"]
    assert decision["against_evidence"] is True
    assert decision["override_reason"] == "Partner deadline"
    assert decision["blockers"] == ["The stage has no criteria"]
    assert "Partner deadline" in decision["memos"]["executive"]


def test_another_experiments_token_or_no_token_is_refused(client):
    make_experiment(key="EXP-43")
    _, other_key = make_token(experiment=make_experiment(key="EXP-44"))
    response = _get(client, "EXP-43", other_key)
    assert response.status_code == 403
    assert (
        response.json()["detail"] == "This token belongs to EXP-44: it may not be used for EXP-43."
    )
    assert client.get(f"{BASE}/EXP-43").status_code == 401


def test_openapi_documents_the_read_endpoint_and_its_schema():
    schema = ninja_api.get_openapi_schema()
    operation = schema["paths"]["/api/v1/experiments/{experiment_key}"]["get"]
    assert {str(code) for code in operation["responses"]} >= {"200", "401", "403", "404"}
    ref = operation["responses"][200]["content"]["application/json"]["schema"]["$ref"]
    out = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"stage", "status", "timebox", "stages", "flags", "gate_decisions"} <= set(
        out["properties"]
    )
