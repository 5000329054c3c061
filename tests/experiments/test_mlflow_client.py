"""MLflow's own Python client against a live Assay (gunicorn): examples/mlflow_train.py, a
script written only with MLflow's public API, logs 2 variants x 3 seeds unchanged, and
Assay's criteria, statistics and kill decision follow (issue 11 §1).

The client (mlflow-skinny) goes into a virtual environment of its own, so that its pins do not
fight Assay's: var/mlflow-client-venv, made once (about a minute of pip from the package
registry) and reused; ASSAY_MLFLOW_PYTHON may name an interpreter that already has it. Where
it cannot be installed the test is skipped, and fails under ASSAY_REQUIRE_SERVICES (CI).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from experiments.models import Artifact, Run
from tests.factories import make_criterion, make_experiment, make_token, stored_points
from tests.services import ROOT, AppServer, database_url_of, service_env

pytestmark = [pytest.mark.slow]

MLFLOW_CLIENT = "mlflow-skinny==3.17.2"
VENV = ROOT / "var" / "mlflow-client-venv"


def _unavailable(message):
    if os.environ.get("ASSAY_REQUIRE_SERVICES"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def mlflow_python():
    """An interpreter with MLflow's client, installed on first use."""
    given = os.environ.get("ASSAY_MLFLOW_PYTHON")
    if given:
        return given
    python = VENV / "bin" / "python"
    marker = VENV / f".installed-{MLFLOW_CLIENT}"
    if not marker.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True,
                           capture_output=True, timeout=120)  # fmt: skip
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", MLFLOW_CLIENT],
                           check=True, capture_output=True, text=True, timeout=900)  # fmt: skip
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as error:
            _unavailable(f"could not install {MLFLOW_CLIENT}: {getattr(error, 'stderr', '')}")
        marker.touch()
    return str(python)


@pytest.fixture
def server(transactional_db, tmp_path):
    app = AppServer(
        service_env(DATABASE_URL=database_url_of(connection.settings_dict),
                    ASSAY_MLFLOW_ARTIFACT_ROOT=f"file://{tmp_path}/store"),
        log_path=tmp_path / "gunicorn.log",
    ).start()  # fmt: skip
    yield app
    app.stop()


def run_script(python, server, key, *arguments, cwd):
    env = {
        **service_env(MLFLOW_TRACKING_URI=f"{server.url}/mlflow", MLFLOW_TRACKING_TOKEN=key),
        # No retries: a failing request shows at once instead of minutes of back-off.
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }
    return subprocess.run(
        [python, str(ROOT / "examples" / "mlflow_train.py"), *arguments],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


def test_an_mlflow_script_reports_unchanged_and_is_killed_by_a_hard_kill_criterion(
    mlflow_python, server, tmp_path
):
    experiment = make_experiment(key="EXP-12")
    success = make_criterion(experiment=experiment, metric="accuracy", aggregation="mean",
                             comparator="ge", threshold=0.8, variant="candidate")  # fmt: skip
    kill = make_criterion(experiment=experiment, kind="kill", severity="hard", metric="loss",
                          aggregation="mean", comparator="ge", threshold=2, min_seeds=1,
                          variant="candidate")  # fmt: skip
    _, key = make_token(experiment=experiment)

    result = run_script(
        mlflow_python, server, key, "--experiment", "EXP-12", "--seeds", "3", "--steps", "100",
        "--diverge-seed", "3", "--step-delay", "0.02", "--save-model", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr

    runs = {(run.variant, run.seed): run for run in Run.objects.filter(experiment=experiment)}
    assert set(runs) == {(variant, seed) for variant in ("baseline", "candidate")
                         for seed in (1, 2, 3)}  # fmt: skip
    killed = runs["candidate", 3]
    assert killed.status == "killed"
    assert re.search(r"candidate seed 3: stopped at step \d+: Hard kill criterion tripped: "
                     r"mean loss of candidate ≥ 2", result.stdout), result.stdout  # fmt: skip
    assert all(run.status == "finished" for run in runs.values() if run != killed)
    finished = runs["candidate", 1]
    assert finished.name == "candidate-seed1"
    assert finished.params == {"learning_rate": "0.1", "steps": "100", "optimizer": "sgd",
                               "eval_set": "held-out"}  # fmt: skip
    assert finished.tags["team"] == "ml-platform" and finished.tags["evaluated"] == "true"
    assert len(stored_points(finished, "loss")) == 100
    assert [point.step for point in stored_points(finished, "eval_accuracy")] == [100]
    # The model file went to the team's store (here a folder) and Assay knows where it is.
    artifact = Artifact.objects.get(run=finished)
    assert artifact.kind == "checkpoint"
    assert Path(artifact.uri.removeprefix("file://")).is_file()

    success.refresh_from_db()
    kill.refresh_from_db()
    assert (success.result, kill.result) == ("holds", "holds")
    experiment.refresh_from_db()
    assert "Hard kill criterion tripped: mean loss of candidate ≥ 2" in experiment.flags
    accuracy = next(c for c in experiment.comparisons() if c.metric == "accuracy")
    # The killed run's evidence is incomplete: statistics rest on finished runs.
    assert (accuracy.variant, accuracy.baseline.n, accuracy.candidate.n) == ("candidate", 3, 2)
    assert accuracy.candidate.mean > 0.8


def test_an_mlflow_script_for_another_experiment_is_refused_in_mlflows_words(
    mlflow_python, server, tmp_path
):
    _, key = make_token(experiment=make_experiment(key="EXP-12"))
    result = run_script(mlflow_python, server, key, "--experiment", "EXP-7", cwd=tmp_path)
    assert result.returncode != 0
    assert "PERMISSION_DENIED" in result.stderr and "set_experiment('EXP-12')" in result.stderr
    assert not Run.objects.exists()
