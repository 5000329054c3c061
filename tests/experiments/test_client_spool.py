"""The client's spool is bounded and replayed as a stream (issue 8 §1). No server needed."""

import json
import logging
import tracemalloc

import pytest
from assay_client import Run

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
