"""The Python client (assay_client) against a live Assay served by gunicorn."""

import json
import math
import shutil
import subprocess
import time

import assay_client
import pytest
from django.db import connection

from experiments.models import Artifact, Run
from tests.factories import logged_series, make_experiment, make_token, stored_points
from tests.services import (
    PYTHON,
    ROOT,
    AppServer,
    database_url_of,
    free_port,
    service_env,
    wait_for,
)

pytestmark = [pytest.mark.slow]

FAST = {"flush_interval": 0.1, "should_stop_interval": 0.2, "retries": 1}


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    """One gunicorn for the module, on the test database (tests use transactional_db)."""
    with django_db_blocker.unblock():
        url = database_url_of(connection.settings_dict)
    log = tmp_path_factory.mktemp("server") / "gunicorn.log"
    app = AppServer(service_env(DATABASE_URL=url), log_path=log).start()
    yield app
    app.stop()


@pytest.fixture
def reporting(transactional_db, server, tmp_path, monkeypatch):
    """EXP-12 with a token, and the client's environment pointing at the live server."""
    experiment = make_experiment(key="EXP-12")
    _, key = make_token(experiment=experiment)
    monkeypatch.setenv("ASSAY_URL", server.url)
    monkeypatch.setenv("ASSAY_TOKEN", key)
    monkeypatch.setenv("ASSAY_SPOOL_DIR", str(tmp_path / "spool"))
    return experiment


@pytest.fixture
def live_url(server):
    return server.url


def unreachable_url():
    return f"http://127.0.0.1:{free_port()}"


def test_run_reports_points_artifacts_and_finish(reporting):
    with assay_client.start_run(
        experiment="EXP-12", name="lora-r16-s1", variant="candidate", seed=1,
        params={"r": 16}, gpu="1x A100", **FAST,
    ) as run:  # fmt: skip
        for step in range(1200):
            run.log({"loss": 1 / (step + 1), "accuracy": step / 1200}, step=step)
        run.log_artifact("s3://b/ckpt/step-1199.pt", kind="checkpoint", size=9, sha256="0" * 64)
        run.summary["accuracy"] = 0.93

    stored = Run.objects.get()
    assert (stored.name, stored.variant, stored.seed, stored.status) == (
        "lora-r16-s1", "candidate", 1, "finished",
    )  # fmt: skip
    assert stored.params == {"r": 16} and stored.gpu == "1x A100" and stored.host
    assert len(stored_points(stored)) == 2400
    assert reporting.runs.values_by_metric(["accuracy"])["accuracy"] == [(stored, 0.93)]
    assert logged_series(stored, "loss")[-1] == (1199, 1 / 1200)
    assert Artifact.objects.get().uri == "s3://b/ckpt/step-1199.pt"


def test_exception_in_the_block_marks_the_run_failed(reporting):
    with pytest.raises(RuntimeError):
        with assay_client.start_run(experiment="EXP-12", name="crash", **FAST) as run:
            run.log({"loss": 2.0})
            raise RuntimeError("CUDA out of memory")

    stored = Run.objects.get()
    assert stored.status == "failed"
    assert len(stored_points(stored)) == 1


def test_nan_from_the_client_is_stored_and_flagged(reporting):
    with assay_client.start_run(experiment="EXP-12", name="diverged", **FAST) as run:
        run.log({"loss": 1.0}, step=0)
        run.log({"loss": math.nan}, step=1)
        run.log({"loss": math.inf}, step=2)

    values = [value for _, value in logged_series(Run.objects.get(), "loss")]
    assert values[0] == 1.0 and math.isnan(values[1]) and values[2] == math.inf
    assert reporting.runs.non_finite_metrics() == {"loss"}


def test_should_stop_is_false_while_nothing_tripped(reporting):
    with assay_client.start_run(experiment="EXP-12", name="quiet", **FAST) as run:
        run.log({"loss": 1.0})
        assert run.should_stop() is False
    assert Run.objects.get().status == "finished"


def test_offline_run_spools_and_sync_uploads_it_once(reporting, tmp_path, live_url):
    spool = tmp_path / "spool"
    with assay_client.start_run(
        experiment="EXP-12", name="offline", url=unreachable_url(), **FAST
    ) as run:
        for step in range(1500):
            run.log({"loss": float(step)}, step=step)
        run.log_artifact("gs://bucket/final.pt", kind="checkpoint")

    assert not Run.objects.exists()
    spooled = list(spool.glob("*.jsonl"))
    assert len(spooled) == 1
    kept = tmp_path / "copy.jsonl"
    shutil.copy(spooled[0], kept)

    [result] = assay_client.sync(spool, url=live_url)

    assert (result.points, result.left, result.refused) == (1500, False, 0)
    assert not list(spool.iterdir())
    run = Run.objects.get()
    assert (run.name, run.status) == ("offline", "finished")
    assert len(stored_points(run)) == 1500
    assert Artifact.objects.filter(run=run).count() == 1

    # Uploading the same spool again stores nothing twice.
    shutil.copy(kept, spool / spooled[0].name)
    assay_client.sync(spool, url=live_url)
    assert Run.objects.count() == 1
    assert len(stored_points()) == 1500
    assert Artifact.objects.count() == 1


def test_a_later_run_uploads_what_an_earlier_one_spooled(reporting, live_url):
    with assay_client.start_run(
        experiment="EXP-12", name="earlier", url=unreachable_url(), **FAST
    ) as run:
        run.log({"loss": 1.0}, step=0)
        run.log({"loss": 0.5}, step=1)

    with assay_client.start_run(experiment="EXP-12", name="later", **FAST) as run:
        run.log({"loss": 0.1}, step=0)

    earlier = Run.objects.get(name="earlier")
    assert len(stored_points(earlier)) == 2
    assert earlier.status == "finished"


def test_sync_command_line(reporting, tmp_path, live_url):
    spool = tmp_path / "cli-spool"
    with assay_client.start_run(
        experiment="EXP-12", name="cli", url=unreachable_url(), spool_dir=spool, **FAST
    ) as run:
        run.log({"loss": 1.0}, step=0)

    result = subprocess.run(
        [PYTHON, "-m", "assay_client", "sync", "--spool", str(spool)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "uploaded 1 points from 1 spool file(s); 0 left" in result.stdout
    assert len(stored_points(Run.objects.filter(name="cli"))) == 1


def test_sync_keeps_the_spool_while_assay_is_away(reporting, tmp_path):
    spool = tmp_path / "kept"
    with assay_client.start_run(
        experiment="EXP-12", name="away", url=unreachable_url(), spool_dir=spool, **FAST
    ) as run:
        run.log({"loss": 1.0}, step=0)

    [result] = assay_client.sync(spool, url=unreachable_url())

    assert (result.points, result.left, result.needs_user) == (0, True, False)
    assert "run sync again later" in result.reason
    assert [result.path.name] == [path.name for path in spool.glob("*.jsonl")]


def test_a_bad_point_never_costs_the_other_points_of_its_batch(reporting):
    with assay_client.start_run(experiment="EXP-12", name="mixed", **FAST) as run:
        for step in range(50):
            run.log({"loss": 1.0}, step=step)
        with pytest.raises(ValueError, match="'kkkkk"):
            run.log({"k" * 101: 1.0, "accuracy": 0.5}, step=50)
        for step in range(51, 100):
            run.log({"loss": 1.0}, step=step)

    stored = stored_points(Run.objects.filter(name="mixed"))
    assert len([point for point in stored if point.key == "loss"]) == 99
    assert [(point.key, point.step) for point in stored if point.key != "loss"] == [
        ("accuracy", 50)
    ]


def spool_line(experiment, client_key, kind, body):
    run = {"name": "old-client", "variant": "candidate", "seed": 1, "params": {},
           "git_commit": "", "host": "h", "gpu": "", "client_key": client_key}  # fmt: skip
    return json.dumps({"experiment": experiment, "run": run, "kind": kind, "body": body}) + "\n"


def test_sync_drops_only_the_points_assay_refuses_from_a_spooled_batch(reporting, tmp_path):
    # A spool written by a client that did not check its points (this one's earlier version).
    spool = tmp_path / "old"
    spool.mkdir()
    points = [{"key": "loss", "value": float(step), "step": step} for step in range(1000)]
    points[500] = {"key": "k" * 101, "value": 1.0, "step": 500}
    (spool / "EXP-12--c1.jsonl").write_text(
        spool_line("EXP-12", "c1", "metrics", {"idempotency_key": "c1-1", "points": points})
        + spool_line("EXP-12", "c1", "finish", {"status": "finished", "summary": {}})
    )

    [result] = assay_client.sync(spool)

    assert (result.points, result.left) == (999, False)
    assert len(stored_points(Run.objects.filter(name="old-client"))) == 999
    assert not list(spool.iterdir())


def log_until_refused(run, logged, seconds=20):
    """Log like a training loop, noting each step in `logged`, until the client raises."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        step = len(logged)
        logged.append(step)
        run.log({"loss": 1.0 / (step + 1)}, step=step)
        run.should_stop()
        time.sleep(0.01)
    raise AssertionError(f"no error after {seconds}s of logging")


@pytest.mark.parametrize(
    ("token_of", "status", "detail"),
    [
        ("read-only", 403, "read-only"),
        ("other experiment", 403, "belongs to EXP-99"),
    ],
)
def test_a_refused_token_raises_instead_of_spooling_forever(
    reporting, tmp_path, token_of, status, detail
):
    if token_of == "read-only":
        _, key = make_token(experiment=reporting, read_only=True)
    else:
        _, key = make_token(experiment=make_experiment(key="EXP-99"))

    with pytest.raises(assay_client.AssayAuthError) as raised:
        with assay_client.start_run(experiment="EXP-12", name="refused", token=key, **FAST) as run:
            log_until_refused(run, [])

    assert raised.value.status == status
    assert f"({status} " in str(raised.value) and detail in str(raised.value)
    assert not Run.objects.exists()
    # Nothing logged is lost: it waits in the spool for a valid token.
    assert list((tmp_path / "spool").glob("EXP-12--*.jsonl"))


def test_a_token_revoked_mid_run_raises_and_sync_with_a_new_one_uploads_all(
    reporting, tmp_path, live_url
):
    token, key = make_token(experiment=reporting)
    logged = []
    with pytest.raises(assay_client.AssayAuthError) as raised:
        with assay_client.start_run(experiment="EXP-12", name="revoked", token=key, **FAST) as run:
            for _ in range(50):
                logged.append(len(logged))
                run.log({"loss": 1.0}, step=logged[-1])
            wait_for(lambda: bool(stored_points(Run.objects.filter(name="revoked"))))
            token.revoke()
            log_until_refused(run, logged)

    assert raised.value.status == 401
    assert "401" in str(raised.value) and raised.value.detail in str(raised.value)
    _, new_key = make_token(experiment=reporting)
    result = subprocess.run(
        [PYTHON, "-m", "assay_client", "sync", "--spool", str(tmp_path / "spool")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=service_env(ASSAY_URL=live_url, ASSAY_TOKEN=None, ASSAY_TOKENS=f"EXP-12={new_key}"),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    stored = Run.objects.get(name="revoked")
    assert len(stored_points(stored)) == len(logged)
    assert stored.status == "failed"  # the job ended on the error


def test_a_job_running_when_the_lead_kills_the_experiment_stops_and_its_run_ends_killed(
    reporting, alice
):
    steps = 0
    with assay_client.start_run(experiment="EXP-12", name="doomed", **FAST) as run:
        run.log({"loss": 1.0}, step=0)
        wait_for(lambda: bool(stored_points(Run.objects.filter(name="doomed"))))
        reporting.set_status("killed", by=alice, reason="no longer worth it")
        deadline = time.monotonic() + 15
        while not run.should_stop():
            assert time.monotonic() < deadline, "the job was never told to stop"
            steps += 1
            run.log({"loss": 1.0}, step=steps)
            time.sleep(0.01)

    stored = Run.objects.get(name="doomed")
    assert stored.status == "killed"  # not failed on an error, not left running


def offline_spool(spool, experiment, name, points):
    with assay_client.start_run(
        experiment=experiment, name=name, url=unreachable_url(), spool_dir=spool, **FAST
    ) as run:
        for step in range(points):
            run.log({"loss": float(step)}, step=step)


def sync_command(spool, live_url, *args, **env):
    return subprocess.run(
        [PYTHON, "-m", "assay_client", "sync", "--spool", str(spool), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env=service_env(**{"ASSAY_URL": live_url, "ASSAY_TOKEN": None, "ASSAY_TOKENS": None,
                           **env}),
    )  # fmt: skip


def test_sync_uploads_each_experiment_with_its_own_token(reporting, tmp_path, live_url):
    spool = tmp_path / "many"
    keys = {}
    for number in (1, 2, 3):
        experiment = make_experiment(key=f"EXP-{number}")
        keys[number] = make_token(experiment=experiment)[1]
        offline_spool(spool, f"EXP-{number}", f"job-{number}", points=10 * number)
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(f"# one per experiment\nEXP-2={keys[2]}\n")

    first = sync_command(spool, live_url, "--tokens", str(tokens_file),
                         ASSAY_TOKENS=f"EXP-1={keys[1]}")  # fmt: skip

    assert first.returncode == 1, first.stdout + first.stderr
    lines = {line.split("--")[0]: line for line in first.stdout.splitlines() if "--" in line}
    assert "uploaded 10 points" in lines["EXP-1"] and "done" in lines["EXP-1"]
    assert "uploaded 20 points" in lines["EXP-2"] and "done" in lines["EXP-2"]
    assert "LEFT in the spool: no token for EXP-3" in lines["EXP-3"]
    assert "uploaded 30 points from 3 spool file(s); 1 left" in first.stdout
    assert [path.name.split("--")[0] for path in spool.iterdir()] == ["EXP-3"]
    assert len(stored_points(Run.objects.filter(name__in=["job-1", "job-2"]))) == 30

    tokens_file.write_text(f"EXP-3={keys[3]}\n")
    second = sync_command(spool, live_url, "--tokens", str(tokens_file))
    assert second.returncode == 0, second.stdout + second.stderr
    assert len(stored_points(Run.objects.filter(name="job-3"))) == 30
    assert not list(spool.iterdir())


def test_sync_leaves_a_file_whose_token_assay_refuses_and_exits_1(reporting, tmp_path, live_url):
    spool = tmp_path / "refused"
    offline_spool(spool, "EXP-12", "job", points=5)
    token, key = make_token(experiment=reporting)
    token.revoke()

    result = sync_command(spool, live_url, ASSAY_TOKENS=f"EXP-12={key}")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "LEFT in the spool: Assay refused the token (401" in result.stdout
    assert "give a valid token for EXP-12" in result.stdout
    assert len(list(spool.glob("*.jsonl"))) == 1


def test_sync_exits_0_when_assay_is_only_unreachable(reporting, tmp_path):
    spool = tmp_path / "away"
    offline_spool(spool, "EXP-12", "job", points=5)

    result = sync_command(spool, unreachable_url(), ASSAY_TOKEN="assay_x_y")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Assay could not be reached" in result.stdout and "run sync again later" in result.stdout
    assert len(list(spool.glob("*.jsonl"))) == 1


def test_a_summary_past_the_metric_name_cap_still_ends_the_run(
    transactional_db, tmp_path, monkeypatch
):
    """A run must not stay "running" because Assay refused its summary (a gate waits on it)."""
    experiment = make_experiment(key="EXP-12")
    _, key = make_token(experiment=experiment)
    url = database_url_of(connection.settings_dict)
    env = service_env(DATABASE_URL=url, ASSAY_MAX_METRICS_PER_RUN="2")
    app = AppServer(env, log_path=tmp_path / "gunicorn.log").start()
    try:
        with assay_client.start_run(
            experiment="EXP-12", name="wide", url=app.url, token=key,
            spool_dir=tmp_path / "spool", **FAST,
        ) as run:  # fmt: skip
            run.log({"loss": 1.0, "accuracy": 0.5}, step=0)
            run.summary.update({"f1": 0.4, "recall": 0.3})
    finally:
        app.stop()

    stored = Run.objects.get(name="wide")
    assert stored.status == "finished"
    assert stored.summary == {}
    assert len(stored_points(stored)) == 2
