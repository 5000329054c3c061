"""The client's spool is bounded and replayed as a stream (issue 8 §1). No server needed."""

import json
import logging
import time
import tracemalloc

import pytest
from assay_client import Run, Spool, spool, start_run
from assay_client import run as run_module
from assay_client.transport import AssayError

from tests.services import free_port


def offline_run(spool_dir, name, **options):
    return Run("EXP-12", name, url=f"http://127.0.0.1:{free_port()}", token="assay_x_y",
               spool_dir=spool_dir, retries=0, flush_interval=0.05, batch_size=100,
               **options)  # fmt: skip


def log_offline(spool_dir, name, steps, **options):
    run = offline_run(spool_dir, name, **options)
    for step in range(steps):
        run.log({"loss": 1.0 / (step + 1)}, step=step)
    run.finish()
    return run


def records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def spooled_steps(path):
    return [
        point["step"]
        for record in records(path)
        if record["kind"] == "metrics"
        for point in record["body"]["points"]
    ]


MB = 1024 * 1024
CAP_MB = 0.05  # about 52 kB: a dozen batches of 100 points


def test_over_its_cap_the_spool_drops_the_oldest_points_first(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="assay_client")

    run = log_offline(tmp_path, "long-outage", 3000, spool_max_mb=CAP_MB)

    assert run.spool_path.stat().st_size <= CAP_MB * MB
    steps = spooled_steps(run.spool_path)
    # What is left is the newest part, whole, and the run's finish after it.
    assert steps == list(range(steps[0], 3000)) and steps[0] > 0
    assert records(run.spool_path)[-1]["kind"] == "finish"
    assert "spool over its cap of 0.05 MB" in caplog.text
    assert "dropped the oldest" in caplog.text and run.spool_path.name in caplog.text


def test_earlier_runs_spools_are_dropped_before_the_current_runs_points(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="assay_client")
    earlier = log_offline(tmp_path, "earlier", 250, spool_max_mb=CAP_MB)
    assert earlier.spool_path.exists()

    later = log_offline(tmp_path, "later", 400, spool_max_mb=CAP_MB)

    assert not earlier.spool_path.exists()
    assert f"dropped the oldest spool file {earlier.spool_path.name}" in caplog.text
    assert spooled_steps(later.spool_path) == list(range(400))


def test_the_cap_comes_from_assay_spool_max_mb(tmp_path, monkeypatch):
    monkeypatch.setenv("ASSAY_SPOOL_MAX_MB", str(CAP_MB))
    run = log_offline(tmp_path, "from-env", 3000)
    assert run.spool_path.stat().st_size <= CAP_MB * MB


@pytest.mark.parametrize("value", ["lots", "0", "-5", "nan"])
def test_a_bad_cap_is_refused_naming_the_variable(tmp_path, monkeypatch, value):
    monkeypatch.setenv("ASSAY_SPOOL_MAX_MB", value)
    with pytest.raises(ValueError, match="ASSAY_SPOOL_MAX_MB"):
        offline_run(tmp_path, "bad-cap")


class CountingTransport:
    """Stands in for Assay: answers every call, keeps nothing."""

    def __init__(self):
        self.calls = 0

    def experiment_url(self, experiment, path):
        return path

    def request(self, method, url, body=None, *, retries=None):
        self.calls += 1
        return {"id": 1}


def test_replay_streams_a_large_spool_line_by_line(tmp_path):
    from assay_client.spool import replay

    run = {"name": "big", "variant": "candidate", "seed": 1, "params": {}, "git_commit": "",
           "host": "h", "gpu": "", "client_key": "c1"}  # fmt: skip
    path = tmp_path / "EXP-12--c1.jsonl"
    with open(path, "w") as spool_file:
        for batch in range(200):
            points = [{"key": "loss", "value": 0.5, "step": batch * 1000 + i,
                       "wall_time": 1.7e9} for i in range(1000)]  # fmt: skip
            body = {"idempotency_key": f"c1-{batch}", "points": points}
            record = {"experiment": "EXP-12", "run": run, "kind": "metrics", "body": body}
            spool_file.write(json.dumps(record) + "\n")
    assert path.stat().st_size > 10 * MB

    transport = CountingTransport()
    tracemalloc.start()
    try:
        result = replay(path, transport)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert result.points == 200_000 and transport.calls == 201
    # A whole-file read would hold every record at once: tens of megabytes.
    print(f"replay peak {peak / MB:.2f} MB")  # the figure, with pytest -s
    assert peak < 4 * MB, f"peak {peak / MB:.1f} MB"


class RecordingTransport:
    """Stands in for Assay: takes every request, and can be down."""

    def __init__(self, *args, online=True, **kwargs):
        self.online = online
        self.requests = []

    def experiment_url(self, experiment, path):
        return f"http://assay/api/v1/experiments/{experiment}/{path}"

    def request(self, method, url, body=None, *, retries=None):
        if not self.online:
            raise AssayError(f"{method} {url}: connection refused")
        self.requests.append(url.rsplit("/", 1)[1])
        if url.endswith("/runs"):
            return {"id": 1}
        if url.endswith("/should-stop"):
            return {"stop": False, "reasons": []}
        return {}


def wait_for(condition, seconds=10):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_another_jobs_sync_leaves_a_live_runs_spool_alone(tmp_path):
    run = offline_run(tmp_path, "live")
    run.log({"loss": 1.0}, step=0)
    wait_for(run.spool_path.exists)

    # Another job on the machine syncs the folder while this run is still spooling.
    other_job = RecordingTransport()
    assert Spool(tmp_path).sync(lambda experiment: other_job) == []
    assert other_job.requests == []

    run.log({"loss": 0.5}, step=1)
    run.finish()
    assert spooled_steps(run.spool_path) == [0, 1]
    assert records(run.spool_path)[-1]["kind"] == "finish"
    # Once the run has ended its file is anyone's to upload.
    assert Spool(tmp_path).pending() == [run.spool_path]
    Spool(tmp_path).sync(lambda experiment: other_job)
    assert other_job.requests[0] == "runs" and other_job.requests[-1] == "finish"


def test_a_spool_taken_while_the_run_uploads_it_still_lets_the_run_finish(tmp_path, monkeypatch):
    assay = RecordingTransport(online=False)
    monkeypatch.setattr(run_module, "Transport", lambda *args, **kwargs: assay)
    run = offline_run(tmp_path, "taken", offline_probe_interval=0.05)
    run.log({"loss": 1.0}, step=0)
    wait_for(run.spool_path.exists)

    def replay_then_lose_the_file(path, transport):
        spool.replay(path, transport)
        path.unlink()  # as if something else took the file just after

    monkeypatch.setattr(run_module, "replay", replay_then_lose_the_file)
    assay.online = True
    run.finish(timeout=10)
    assert assay.requests[-1] == "finish"
    assert "metrics" in assay.requests


class RateLimitedTransport(RecordingTransport):
    """Assay answering 429, as it does for a minute after too many failed token attempts."""

    DETAIL = "Too many failed token attempts from 10.0.0.7: try again in a minute."

    def request(self, method, url, body=None, *, retries=None):
        if not self.online:
            raise AssayError(f"{method} {url}: 429 {self.DETAIL}", 429, detail=self.DETAIL)
        return super().request(method, url, body, retries=retries)


def test_a_429_is_logged_with_assays_reason_and_retried_later(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.WARNING, logger="assay_client")
    assay = RateLimitedTransport(online=False)
    monkeypatch.setattr(run_module, "Transport", lambda *args, **kwargs: assay)
    run = offline_run(tmp_path, "limited", offline_probe_interval=0.05)
    run.log({"loss": 1.0}, step=0)
    wait_for(run.spool_path.exists)
    time.sleep(0.3)  # several probes, all answered 429

    limited = [r.message for r in caplog.records if "(429)" in r.message]
    assert len(limited) == 1  # said once, not at every probe
    assert RateLimitedTransport.DETAIL in limited[0] and "unreachable" not in caplog.text

    assay.online = True
    run.finish(timeout=10)
    assert assay.requests[0] == "runs" and assay.requests[-1] == "finish"
    assert "metrics" in assay.requests


class ClosedExperimentTransport(RecordingTransport):
    """Assay for an experiment the Lead has killed: no new runs, should-stop says stop."""

    DETAIL = "EXP-12 is killed: it takes no more reports"

    def request(self, method, url, body=None, *, retries=None):
        self.requests.append(url.rsplit("/", 1)[1])
        if url.endswith("/runs"):
            raise AssayError(f"{method} {url}: 409 {self.DETAIL}", 409, detail=self.DETAIL)
        return {"stop": True, "reasons": ["experiment killed"]}


def test_a_run_assay_refuses_to_create_still_hears_should_stop(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.WARNING, logger="assay_client")
    assay = ClosedExperimentTransport()
    monkeypatch.setattr(run_module, "Transport", lambda *args, **kwargs: assay)
    with start_run("EXP-12", "too-late", url="http://assay", token="assay_x_y",
                   spool_dir=tmp_path, flush_interval=0.05,
                   should_stop_interval=0.05) as run:  # fmt: skip
        for step in range(1000):
            run.log({"loss": 1.0}, step=step)
            if run.should_stop():
                break
            time.sleep(0.01)
    assert step < 999 and run.stop_reasons == ["experiment killed"]

    # Asked once and told why, not retried with a traceback every turn.
    assert assay.requests.count("runs") == 1
    assert "sender error" not in caplog.text
    assert f"Assay refused to create run too-late; nothing of it is stored: {assay.DETAIL}" in (
        caplog.text
    )
    assert not run.spool_path.exists()  # nothing spooled that could never be stored
