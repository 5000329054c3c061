#!/usr/bin/env python3
"""Run Assay's production processes without Docker: gunicorn, a Celery worker and Celery beat.

    python deploy/stack.py --release           # migrate, collect static files, start all three
    python deploy/stack.py --only web,worker   # a subset (e.g. beat runs on one host only)

Settings come from the environment exactly as for `manage.py` (DATABASE_URL, REDIS_URL,
SECRET_KEY, ...; see deploy/assay.env.example). Each process's output is prefixed with its name.
SIGTERM or Ctrl-C stops every process gracefully (Celery finishes the task in hand). If one
process dies, the others are stopped and this exits non-zero, so that systemd (deploy/assay.service)
or another supervisor restarts the whole stack rather than running half of it.
"""

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN_DIR = Path(sys.executable).parent
PROCESS_NAMES = ("web", "worker", "beat")


def _program(name):
    """A console script of this virtualenv (gunicorn, celery), else the one on PATH."""
    candidate = BIN_DIR / name
    return str(candidate) if candidate.exists() else name


def _worker_queues():
    """Every queue by default, the embedding queue included, so that no job waits for a worker
    that is not there; ASSAY_WORKER_QUEUES=celery when a separate GPU worker takes embeddings."""
    queues = ["celery"]
    embedding_queue = _setting("ASSAY_EMBEDDING_QUEUE", "celery")
    if embedding_queue not in queues:
        queues.append(embedding_queue)
    return _setting("ASSAY_WORKER_QUEUES", ",".join(queues))


def commands(args):
    """The command line of each process, by name."""
    data_dir = Path(_setting("ASSAY_DATA_DIR", ROOT / "var"))
    return {
        "web": [
            _program("gunicorn"), "config.wsgi",
            "--bind", args.bind,
            "--workers", str(args.web_workers),
            "--threads", str(args.web_threads),
            "--graceful-timeout", "20",
            # gunicorn's highest: a search URL with a long non-ASCII query is many bytes once
            # percent-encoded, and its default (4094) answers those with an HTML 414.
            "--limit-request-line", "8190",
            "--access-logfile", "-",
        ],
        "worker": [
            _program("celery"), "-A", "config", "worker", "-l", "info",
            "-Q", _worker_queues(),
            "--concurrency", str(args.worker_concurrency),
        ],
        "beat": [
            _program("celery"), "-A", "config", "beat", "-l", "info",
            "-s", str(data_dir / "celerybeat-schedule"),
        ],
    }  # fmt: skip


def release():
    """What must happen before new code serves: schema migrations and static files."""
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input"], cwd=ROOT, check=True)
    subprocess.run([*manage, "collectstatic", "--no-input", "-v", "0"], cwd=ROOT, check=True)


def _relay(name, stream, width):
    """Copy a child's output to ours, each line prefixed with the process name."""
    prefix = f"{name:<{width}} | ".encode()
    for line in iter(stream.readline, b""):
        sys.stdout.buffer.write(prefix + line)
        sys.stdout.buffer.flush()
    stream.close()


class Stack:
    def __init__(self, command_lines, grace_seconds):
        self.command_lines = command_lines
        self.grace_seconds = grace_seconds
        self.processes = {}
        self.relays = []
        self.stopping = False

    def start(self):
        width = max(len(name) for name in self.command_lines)
        for name, command in self.command_lines.items():
            process = subprocess.Popen(
                command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                # Own process group: a terminal's Ctrl-C reaches us, and we stop the children
                # in order instead of all of them being interrupted at once.
                start_new_session=True,
            )  # fmt: skip
            self.processes[name] = process
            relay = threading.Thread(target=_relay, args=(name, process.stdout, width))
            relay.start()
            self.relays.append(relay)
            self.say(f"started {name} (pid {process.pid}): {' '.join(command)}")

    def say(self, message):
        sys.stdout.write(f"stack | {message}\n")
        sys.stdout.flush()

    def request_stop(self, signum, frame):
        self.stopping = True

    def wait(self):
        """Block until asked to stop or until a process exits; return the exit status."""
        while not self.stopping:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    self.say(f"{name} exited with status {process.returncode}; stopping the rest")
                    return 1
            time.sleep(0.2)
        return 0

    def stop(self):
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace_seconds
        for name, process in self.processes.items():
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{name} did not stop within {self.grace_seconds}s; killing it")
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for relay in self.relays:
            relay.join(5)
        self.say("stopped")


def _setting(name, default):
    """An environment variable, where an empty value counts as unset (as in config/settings.py)."""
    return os.environ.get(name, "").strip() or default


def _int_setting(name, default):
    value = _setting(name, str(default))
    try:
        return int(value)
    except ValueError:
        sys.exit(f"{name} must be an integer, got {value!r}")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--only", default=",".join(PROCESS_NAMES),
        help="comma-separated processes to run (default: web,worker,beat)",
    )  # fmt: skip
    parser.add_argument("--release", action="store_true", help="migrate and collect static first")
    parser.add_argument("--bind", default=_setting("ASSAY_BIND", "127.0.0.1:8000"))
    parser.add_argument("--web-workers", type=int, default=_int_setting("WEB_CONCURRENCY", 2))
    parser.add_argument("--web-threads", type=int, default=_int_setting("WEB_THREADS", 4))
    parser.add_argument(
        "--worker-concurrency", type=int, default=_int_setting("CELERY_CONCURRENCY", 2)
    )
    parser.add_argument("--grace-seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    args.only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(args.only) - set(PROCESS_NAMES)
    if unknown:
        parser.error(f"unknown process {', '.join(sorted(unknown))}; choose from {PROCESS_NAMES}")
    return args


def main(argv=None):
    args = parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if args.release:
        release()
    command_lines = {name: line for name, line in commands(args).items() if name in args.only}
    stack = Stack(command_lines, args.grace_seconds)
    signal.signal(signal.SIGTERM, stack.request_stop)
    signal.signal(signal.SIGINT, stack.request_stop)
    stack.start()
    status = stack.wait()
    stack.stop()
    return status


if __name__ == "__main__":
    sys.exit(main())
