"""`make run`: what it starts, with which settings (its commands are replaced by a recorder)."""

import os
import socket
import subprocess

import pytest

from tests.services import ROOT, require_binary


def make_run(tmp_path, *arguments, **variables):
    """Run `make run` with a Python that records each command and its settings, and returns."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / ".installed").touch()  # newer than the requirements: no install step
    log = tmp_path / "commands.log"
    recorder = venv / "bin" / "python"
    recorder.write_text(
        "#!/bin/sh\n"
        f'echo "$* | ALLOWED_HOSTS=$ALLOWED_HOSTS ASSAY_HTTPS=$ASSAY_HTTPS" >> {log}\n'
        # The server stays up a moment, as a real one would, while run_periodic starts.
        'case "$*" in *runserver*) sleep 1;; esac\n'
    )
    recorder.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **variables}
    result = subprocess.run(
        [require_binary("make"), "-s", "run", f"VENV={venv}", *arguments],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return {line.split(" ", 2)[1]: line for line in log.read_text().splitlines()}


def _allowed(line):
    return line.split("ALLOWED_HOSTS=")[1].split(" ")[0].split(",")


def test_make_run_on_every_interface_allows_this_machines_names(tmp_path):
    commands = make_run(tmp_path, "HOST=0.0.0.0:8080")
    runserver = commands["runserver"]
    assert "runserver 0.0.0.0:8080" in runserver
    allowed = _allowed(runserver)
    assert socket.gethostname() in allowed and "127.0.0.1" in allowed
    # Plain HTTP, as runserver serves it: the explicit lab opt-out.
    assert "ASSAY_HTTPS=false" in runserver


def test_make_run_on_an_address_allows_that_address(tmp_path):
    assert "192.0.2.7" in _allowed(make_run(tmp_path, "HOST=192.0.2.7:8000")["runserver"])


def test_an_allowed_hosts_of_ones_own_wins(tmp_path):
    runserver = make_run(tmp_path, "HOST=0.0.0.0:8080", ALLOWED_HOSTS="lab.example.org")
    assert _allowed(runserver["runserver"]) == ["lab.example.org"]


@pytest.mark.parametrize("host", ["127.0.0.1:8000", "0.0.0.0:8080"])
def test_make_run_runs_the_periodic_work_beside_the_server(tmp_path, host):
    commands = make_run(tmp_path, f"HOST={host}")
    assert set(commands) == {"migrate", "load_demo", "reindex", "run_periodic", "runserver"}
