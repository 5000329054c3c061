"""The Python client (assay_client) against a live Assay served by gunicorn."""

import math
import shutil
import subprocess

import assay_client
import pytest
from django.db import connection

from experiments import evidence
from experiments.models import Artifact, MetricPoint, Run
from tests.factories import make_experiment, make_token
from tests.services import PYTHON, ROOT, AppServer, database_url_of, free_port, service_env

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
    assert MetricPoint.objects.filter(run=stored).count() == 2400
    assert evidence.run_values(reporting, "accuracy") == [(stored, 0.93)]
    assert evidence.series(stored, "loss", max_points=10)[-1] == (1199, 1 / 1200)
    assert Artifact.objects.get().uri == "s3://b/ckpt/step-1199.pt"


def test_exception_in_the_block_marks_the_run_failed(reporting):
    with pytest.raises(RuntimeError):
        with assay_client.start_run(experiment="EXP-12", name="crash", **FAST) as run:
            run.log({"loss": 2.0})
            raise RuntimeError("CUDA out of memory")

    stored = Run.objects.get()
    assert stored.status == "failed"
    assert MetricPoint.objects.filter(run=stored).count() == 1


def test_nan_from_the_client_is_stored_and_flagged(reporting):
    with assay_client.start_run(experiment="EXP-12", name="diverged", **FAST) as run:
        run.log({"loss": 1.0}, step=0)
        run.log({"loss": math.nan}, step=1)
        run.log({"loss": math.inf}, step=2)

    values = [value for _, value in evidence.series(Run.objects.get(), "loss")]
    assert values[0] == 1.0 and math.isnan(values[1]) and values[2] == math.inf
    assert evidence.non_finite_metrics(reporting) == {"loss"}


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
    assert MetricPoint.objects.filter(run=run).count() == 1500
    assert Artifact.objects.filter(run=run).count() == 1

    # Uploading the same spool again stores nothing twice.
    shutil.copy(kept, spool / spooled[0].name)
    assay_client.sync(spool, url=live_url)
    assert Run.objects.count() == 1
    assert MetricPoint.objects.count() == 1500
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
    assert MetricPoint.objects.filter(run=earlier).count() == 2
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
    assert MetricPoint.objects.filter(run__name="cli").count() == 1


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
