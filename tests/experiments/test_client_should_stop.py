"""A job that logs every step is still told to stop (issue 8 §1), against a live gunicorn.

The job is a separate process, as a real training script is: it logs two metrics every 25 ms;
a hard kill criterion trips while it runs, and the job must see should_stop() within
should_stop_interval and a couple of seconds of that.
"""

import re
import subprocess
import time

import pytest

from experiments.models import Run
from tests.factories import make_criterion, make_experiment, make_token, report_run, stored_points
from tests.services import PYTHON, ROOT, service_env, wait_for

pytestmark = [pytest.mark.slow]

SHOULD_STOP_INTERVAL = 1.0
JOB = """
import sys, time
import assay_client

interval, duration = float(sys.argv[1]), float(sys.argv[2])
# A baseline run: its own points never count towards the candidate's kill criterion.
with assay_client.start_run(experiment="EXP-12", name="every-step", variant="baseline",
                            should_stop_interval=interval) as run:
    started = time.monotonic()
    step = 0
    while time.monotonic() - started < duration:
        # Two metrics per 25 ms step, logged apart as a loop logs training and eval metrics.
        run.log({"loss": 1.0 / (step + 1)}, step=step)
        time.sleep(0.0125)
        run.log({"accuracy": 0.1}, step=step)
        if run.should_stop():
            print(f"stopped at {time.time():.3f} at step {step}", flush=True)
            break
        step += 1
        time.sleep(0.0125)
    else:
        print(f"never told to stop in {duration}s ({step} steps)", flush=True)
"""


def test_a_job_logging_every_25ms_is_told_to_stop_in_time(web, tmp_path):
    experiment = make_experiment(key="EXP-12")
    make_criterion(
        experiment=experiment, kind="kill", severity="hard", metric="accuracy",
        aggregation="mean", comparator="lt", threshold=0.5, min_seeds=1,
    )  # fmt: skip
    _, key = make_token(experiment=experiment)
    script = tmp_path / "job.py"
    script.write_text(JOB)
    job = subprocess.Popen(
        [PYTHON, str(script), str(SHOULD_STOP_INTERVAL), "10"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=service_env(ASSAY_URL=web.url, ASSAY_TOKEN=key,
                        ASSAY_SPOOL_DIR=str(tmp_path / "spool")),
    )  # fmt: skip
    try:
        # Trip the criterion once the job is logging and has had its first should-stop answer.
        def logging():
            assert job.poll() is None, job.communicate()[0]
            return len(stored_points(Run.objects.filter(name="every-step"))) > 40

        wait_for(logging, timeout=30, what="the job to log")
        report_run(experiment=experiment, variant="candidate", seed=1, values={"accuracy": 0.2})
        experiment.evaluate()
        tripped_at = time.time()
        assert experiment.should_stop()[0]
        output, _ = job.communicate(timeout=60)
    finally:
        job.kill()

    assert job.returncode == 0, output
    found = re.search(r"stopped at ([\d.]+) at step (\d+)", output)
    assert found, output
    heard_after = float(found.group(1)) - tripped_at
    print(f"told to stop {heard_after:.2f}s after the trip")  # the figure, with pytest -s
    assert heard_after <= SHOULD_STOP_INTERVAL + 2, output
    run = Run.objects.get(name="every-step")
    assert run.status == "killed"
    # Every point logged before the stop arrived: sending had its turns too.
    steps = int(found.group(2)) + 1
    assert len(stored_points(run)) == 2 * steps
