"""The web server is SIGKILLed and restarted while 4 training jobs log (issue 5, "Faults").

Four real job processes report through the client (examples of what the README tells users
to run). The server dies mid-run, the jobs spool what they cannot send, the server comes back,
and every point arrives exactly once: none lost, none stored twice.
"""

import subprocess
from collections import Counter

import pytest

from experiments.models import Run
from tests import factories
from tests.factories import stored_points
from tests.services import PYTHON, ROOT, AppServer, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.slow]

JOBS = 4
STEPS = 900
METRICS = ("loss", "accuracy")
# A job logs in three phases: before the crash, while the server is down, after it is back.
# It waits at each phase boundary until the test says go, so every job really logs in each
# phase however fast or slow the machine is.
JOB = """
import pathlib, sys, time
import assay_client

name, steps, experiment, gates = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
gates = pathlib.Path(gates)

def gate(number):
    (gates / f"at-{number}-{name}").touch()
    while not (gates / f"go-{number}").exists():
        time.sleep(0.02)

with assay_client.start_run(experiment=experiment, name=name, seed=int(name[-1]),
                            flush_interval=0.05, retries=1, offline_probe_interval=0.2) as run:
    for step in range(steps):
        if step in (steps // 3, 2 * steps // 3):
            gate(1 if step == steps // 3 else 2)
        run.log({"loss": 1.0 / (step + 1), "accuracy": step / steps}, step=step)
        time.sleep(0.002)
print("done", name)
"""


@pytest.fixture
def server(test_db_env, transactional_db, tmp_path):
    server = AppServer(test_db_env(REDIS_URL=None), workers=2, threads=4,
                       log_path=tmp_path / "web.log")  # fmt: skip
    try:
        yield server.start()
    finally:
        server.stop()


def _points_of(name):
    return len(stored_points(Run.objects.filter(name=name)))


def test_every_point_arrives_exactly_once_across_a_server_crash(server, test_db_env, tmp_path):
    experiment = factories.make_experiment(key="EXP-CRASH")
    _, key = factories.make_token(experiment=experiment)
    script = tmp_path / "job.py"
    script.write_text(JOB)
    gates = tmp_path / "gates"
    gates.mkdir()
    names = [f"job-{i}" for i in range(1, JOBS + 1)]

    def all_at(number):
        return all((gates / f"at-{number}-{name}").exists() for name in names)

    jobs = []
    try:
        for name in names:
            env = test_db_env(ASSAY_URL=server.url, ASSAY_TOKEN=key,
                              ASSAY_SPOOL_DIR=str(tmp_path / f"spool-{name}"))  # fmt: skip
            jobs.append(subprocess.Popen(
                [PYTHON, str(script), name, str(STEPS), experiment.key, str(gates)], cwd=ROOT,
                env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            ))  # fmt: skip
        # Phase 1 done by every job, and its points in: crash the server.
        wait_for(lambda: all_at(1), timeout=60, what="all jobs through phase 1")
        wait_for(lambda: all(_points_of(name) > 0 for name in names), timeout=60,
                 what="all four jobs reporting")  # fmt: skip
        server.kill()
        (gates / "go-1").touch()
        # Phase 2 with the server dead: the jobs keep training and spool what they cannot send.
        wait_for(lambda: all_at(2), timeout=60, what="all jobs through phase 2")
        # A live run's spool file carries its process's claim (".jsonl.syncing-<pid>").
        assert all(any((tmp_path / f"spool-{n}").glob("*.jsonl*")) for n in names)
        server.start()
        (gates / "go-2").touch()
        outputs = [job.communicate(timeout=240)[0] for job in jobs]
    finally:
        for job in jobs:
            if job.poll() is None:
                job.kill()
                job.wait(10)

    for job, output in zip(jobs, outputs, strict=True):
        assert job.returncode == 0, output
    for name in names:
        run = Run.objects.get(experiment=experiment, name=name)
        assert run.status == "finished"
        points = stored_points(run)
        assert len(points) == STEPS * len(METRICS), name
        # Exactly once: no (metric, step) pair stored twice.
        doubled = Counter((point.key, point.step) for point in points) - Counter(
            {(point.key, point.step): 1 for point in points}
        )
        assert not doubled, list(doubled)[:5]
        assert {point.key for point in points} == set(METRICS)
    # The spools were emptied by the clients themselves once the server was back.
    assert not list(tmp_path.glob("spool-*/*.jsonl"))
