"""End to end: training jobs report through the client to a live gunicorn on the test database."""

import subprocess
import time

import assay_client
import pytest
from django.urls import reverse

from experiments.models import Experiment, Run
from tests.factories import make_criterion, make_experiment, make_token, stored_points
from tests.services import PYTHON, ROOT, service_env

pytestmark = [pytest.mark.slow]


@pytest.fixture
def experiment_and_key(transactional_db):
    experiment = make_experiment(key="EXP-12")
    _, key = make_token(experiment=experiment)
    return experiment, key


def test_example_training_trips_a_kill_criterion_and_stops(
    web, experiment_and_key, tmp_path, alice_client
):
    experiment, key = experiment_and_key
    make_criterion(
        experiment=experiment,
        kind="kill",
        severity="hard",
        metric="accuracy",
        aggregation="mean",
        comparator="lt",
        threshold=-5,
        relative_to_baseline=True,
        variant="candidate",
        min_seeds=2,
    )

    result = subprocess.run(
        [PYTHON, "examples/train_example.py", "--experiment", "EXP-12", "--seeds", "3",
         "--steps", "100", "--candidate-label-noise", "0.45"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env=service_env(ASSAY_URL=web.url, ASSAY_TOKEN=key,
                        ASSAY_SPOOL_DIR=str(tmp_path / "spool")),
    )  # fmt: skip

    assert result.returncode == 3, result.stdout + result.stderr
    assert "Assay says stop" in result.stdout
    runs = list(Run.objects.filter(experiment=experiment).order_by("pk"))
    assert [run.name for run in runs[:4]] == [
        "baseline-s1", "baseline-s2", "baseline-s3", "candidate-s1",
    ]  # fmt: skip
    # Once two candidate seeds had reported, the kill criterion tripped; the candidate then
    # training was told to stop, ended itself early, and no run came after it.
    stopped = runs[-1]
    assert (stopped.variant, stopped.status) == ("candidate", "killed")
    assert len(stored_points(stopped, "loss")) < 100
    assert all(run.status == "finished" for run in runs[:-1])
    # It logged every step at full speed, and still heard the stop in time.
    for run in runs[:-1]:
        for key in ("loss", "accuracy"):
            assert len([p for p in stored_points(run, key) if p.bucket == ""]) == 100
    assert bool(
        [p for p in stored_points(Run.objects.filter(experiment=experiment)) if p.bucket == "far"]
    )

    experiment.refresh_from_db()
    stop, reasons = experiment.should_stop()
    assert stop and any("Hard kill criterion tripped" in reason for reason in reasons)
    assert experiment in Experiment.objects.flagged()
    page = alice_client.get(reverse("experiments:experiment_detail", args=[experiment.pk]))
    assert "flagged" in page.content.decode()


def log_steps(run, steps, start=0):
    for step in range(start, start + steps):
        run.log({"loss": 1.0 / (step + 1), "accuracy": step / 1000}, step=step)
        time.sleep(0.002)


FAST = {"flush_interval": 0.05, "retries": 1, "offline_probe_interval": 0.2}


@pytest.mark.faults
def test_no_point_lost_when_the_server_is_killed_then_synced(web, experiment_and_key, tmp_path):
    _, key = experiment_and_key
    spool = tmp_path / "spool"
    with assay_client.start_run(
        experiment="EXP-12", name="through-a-crash", url=web.url, token=key,
        spool_dir=spool, **FAST,
    ) as run:  # fmt: skip
        log_steps(run, 400)
        web.kill()  # SIGKILL gunicorn and its workers mid-run
        log_steps(run, 600, start=400)
    logged = 1000 * 2

    assert list(spool.glob("*.jsonl")), "the points the dead server missed are spooled"
    web.start()
    result = subprocess.run(
        [PYTHON, "-m", "assay_client", "sync", "--spool", str(spool)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env=service_env(ASSAY_URL=web.url, ASSAY_TOKEN=key),
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    stored = Run.objects.get(name="through-a-crash")
    assert len(stored_points(stored)) == logged
    assert stored.status == "finished"
    assert not list(spool.iterdir())


@pytest.mark.faults
def test_no_point_lost_when_the_server_is_killed_and_restarted_mid_run(
    web, experiment_and_key, tmp_path
):
    _, key = experiment_and_key
    spool = tmp_path / "spool"
    with assay_client.start_run(
        experiment="EXP-12", name="restart", url=web.url, token=key, spool_dir=spool, **FAST
    ) as run:
        log_steps(run, 300)
        web.kill()
        log_steps(run, 300, start=300)
        web.start()
        log_steps(run, 300, start=600)

    stored = Run.objects.get(name="restart")
    # The client itself uploads its spool once the server is back: no sync needed.
    assert len(stored_points(stored)) == 900 * 2
    assert stored.status == "finished"
    assert not list(spool.glob("*.jsonl"))
