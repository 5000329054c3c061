"""Real processes for tests: PostgreSQL, Redis, the web server (gunicorn) and Celery workers.

Tests that need one start it here (or use the one CI started, given by DATABASE_URL and
REDIS_URL). A missing binary skips the test on a developer machine and fails it in CI, where
ASSAY_REQUIRE_SERVICES=1 is set, so a green CI run means every service test really ran.
"""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN_DIR = Path(PYTHON).parent


def require_binary(name, *candidates):
    """The path of an installed program, else skip (or fail under ASSAY_REQUIRE_SERVICES)."""
    for candidate in (name, *candidates):
        found = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if found:
            return found
    message = f"{name} is not installed (apt-get install it; CI does)"
    if os.environ.get("ASSAY_REQUIRE_SERVICES"):
        pytest.fail(message)
    pytest.skip(message)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout=30.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def _port_open(port):
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _as_service_user(command):
    """PostgreSQL refuses to run as root: run it as the postgres user there."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


class RedisServer:
    def __init__(self, directory):
        self.binary = require_binary("redis-server")
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(lambda: _port_open(self.port), what="redis")
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


class PostgresServer:
    def __init__(self, directory):
        candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        pg_ctl = require_binary("pg_ctl", *(str(c) for c in candidates))
        # Resolved: /usr/local/bin may link pg_ctl but not createdb (Debian keeps all in one dir).
        self.bin = Path(pg_ctl).resolve().parent
        self.directory = Path(directory)
        self.port = free_port()
        self.data = self.directory / "data"

    def _run(self, *command):
        subprocess.run(_as_service_user(list(command)), check=True, capture_output=True)

    def init(self):
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip
        return self

    def start(self):
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                  str(self.directory / "server.log"), "-w", "-o",
                  f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory} -c fsync=off",
                  "start")  # fmt: skip
        return self

    def stop(self, mode="fast"):
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self):
        """Stop the server (if running) and delete its files."""
        try:
            self.stop(mode="immediate")
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.directory, ignore_errors=True)

    def sql(self, statement, database="postgres"):
        """Run one SQL statement as the superuser (outside a transaction); rows if any."""
        import psycopg

        url = self.url(database).replace("postgres://", "postgresql://")
        with psycopg.connect(url, autocommit=True) as connection:
            cursor = connection.execute(statement)
            return cursor.fetchall() if cursor.description else None

    def create_database(self, name):
        self._run(str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "postgres", name)  # fmt: skip
        return self.url(name)

    def url(self, name):
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"


def database_url_of(settings_dict):
    """A DATABASE_URL for the database Django is connected to now (the test database)."""
    engine = settings_dict["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{settings_dict['NAME']}"


def service_env(**overrides):
    """The environment for an Assay process started by a test."""
    # Not the test process's own switches: pytest's, nor the browser tests' async override
    # (which `check --deploy` rightly flags).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PYTEST_") and k != "DJANGO_ALLOW_ASYNC_UNSAFE"
    }
    # No model warm-up in test servers: each gunicorn worker would load MiniLM at start.
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings", "PYTHONUNBUFFERED": "1",
                "HF_HUB_OFFLINE": "1", "DEBUG": "false", "LOG_LEVEL": "WARNING",
                "ASSAY_WARM_UP_SEARCH": "false"})  # fmt: skip
    env.update({k: str(v) for k, v in overrides.items() if v is not None})
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
    return env


class _ProcessGroup:
    """A service started in its own session (start_new_session), stopped with its children."""

    process = None
    stop_timeout = 15  # seconds between SIGTERM and SIGKILL

    def kill(self):
        """SIGKILL the service and its children: a crash, not a shutdown."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.kill()


class AppServer(_ProcessGroup):
    """Assay served by gunicorn on a free port, as in production."""

    def __init__(self, env, workers=2, threads=4, log_path=None):
        self.env = env
        self.workers = workers
        self.threads = threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        self.log_path = log_path

    def start(self, timeout=60):
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [str(BIN_DIR / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(self.workers), "--threads", str(self.threads),
             "--graceful-timeout", "5", "--timeout", "60", "--limit-request-line", "8190"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        wait_for(self._healthy, timeout=timeout, what=f"web server on {self.url}")
        return self

    def _healthy(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"web server exited with {self.process.returncode}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False


class CeleryWorker(_ProcessGroup):
    stop_timeout = 30  # a task in progress finishes first

    def __init__(self, env, queues=("celery",), log_path=None):
        self.env = env
        self.queues = queues
        self.process = None
        self.log_path = log_path

    def start(self, timeout=60):
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [str(BIN_DIR / "celery"), "-A", "config", "worker", "-l", "info",
             "--concurrency", "1", "-Q", ",".join(self.queues), "--without-gossip",
             "--without-mingle", "-n", f"test-{free_port()}@%h"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        wait_for(self._ready, timeout=timeout, what="celery worker")
        return self

    def _ready(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"celery worker exited with {self.process.returncode}")
        result = subprocess.run(
            [str(BIN_DIR / "celery"), "-A", "config", "inspect", "ping", "--timeout", "1"],
            cwd=ROOT, env=self.env, capture_output=True, text=True,
        )  # fmt: skip
        return result.returncode == 0 and "pong" in result.stdout


_redis_databases = iter(range(1, 16))


def redis_url_for_tests(tmp_path_factory):
    """A Redis URL for one group of servers: CI's Redis if given, else a server of our own.

    On CI's shared Redis each call gets a database number of its own (emptied first): a
    worker that outlives its test (the browser journeys share one for the whole session)
    would otherwise take the next test's tasks off the shared queue.
    """
    url = os.environ.get("ASSAY_TEST_REDIS_URL")
    if url:
        parsed = urlparse(url)
        database = next(_redis_databases, None)
        if parsed.port and _port_open(parsed.port) and database is not None:
            url = parsed._replace(path=f"/{database}").geturl()
            redis.Redis.from_url(url).flushdb()
            return url, None
    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    return server.url, server


def start_postgres(tmp_path_factory):
    """A PostgreSQL server of our own (tests that stop or restart it must not share CI's).

    Call `.destroy()` when done. As root the server runs as the postgres user, which cannot
    enter pytest's private temporary folder, so its files go to a folder of its own in /tmp.
    """
    if os.geteuid() == 0:
        directory = Path(tempfile.mkdtemp(prefix="assay-pg-"))
    else:
        directory = tmp_path_factory.mktemp("pg")
    server = PostgresServer(directory).init()
    return server.start()


_shared_postgres = {}


def migrated_database(request, tmp_path_factory, name):
    """A new database, already migrated, on a PostgreSQL server shared by this test session.

    The first call starts the server and migrates a template database once; each call then
    clones it (CREATE DATABASE ... TEMPLATE), which takes a fraction of a second instead of a
    full migrate. Returns (server, database_url).
    """
    if "server" not in _shared_postgres:
        server = start_postgres(tmp_path_factory)
        request.config.add_cleanup(server.destroy)
        template_url = server.create_database("assay_template")
        manage(service_env(DATABASE_URL=template_url, REDIS_URL=None,
                           ASSAY_DATA_DIR=str(tmp_path_factory.mktemp("template-data"))),
               "migrate", "--no-input")  # fmt: skip
        _shared_postgres["server"] = server
    server = _shared_postgres["server"]
    server.sql(f'CREATE DATABASE "{name}" TEMPLATE assay_template')
    return server, server.url(name)


def manage(env, *args, timeout=120):
    """Run `manage.py ARGS` in a subprocess with `env`; return its stdout, raise on failure."""
    result = subprocess.run(
        [PYTHON, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, capture_output=True,
        text=True, timeout=timeout,
    )  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def login(base_url, username, password):
    """A requests session logged in through the login page, as a person would."""
    session = requests.Session()
    login_url = f"{base_url}/accounts/login/"
    page = session.get(login_url, timeout=10)
    page.raise_for_status()
    response = session.post(
        login_url,
        data={"username": username, "password": password,
              "csrfmiddlewaretoken": session.cookies["csrftoken"]},
        headers={"Referer": login_url}, timeout=10, allow_redirects=False,
    )  # fmt: skip
    if response.status_code != 302:
        raise AssertionError(f"login as {username} failed: {response.status_code}")
    return session


def csrf_headers(session, referer):
    """Headers for a state-changing request from a logged-in session (as htmx sends them)."""
    return {"X-CSRFToken": session.cookies["csrftoken"], "Referer": referer}


class StackProcess:
    """deploy/stack.py (gunicorn + Celery worker + beat) as an operator would start it."""

    def __init__(self, env, log_path, release=True, only=("web", "worker", "beat")):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log_path = Path(log_path)
        self.release = release
        self.only = only
        self.process = None

    def start(self, timeout=120):
        command = [PYTHON, str(ROOT / "deploy" / "stack.py"), "--bind", f"127.0.0.1:{self.port}",
                   "--only", ",".join(self.only), "--web-workers", "1",
                   "--worker-concurrency", "1", "--grace-seconds", "20"]  # fmt: skip
        if self.release:
            command.append("--release")
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        wait_for(self._healthy, timeout=timeout, what=f"the stack on {self.url}")
        return self

    def _healthy(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"stack exited with {self.process.returncode}: {self.log()}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout=40):
        """SIGTERM, as systemd or docker would send; return the exit status."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
                self._kill_orphans()
        return self.process.returncode if self.process else None

    def _kill_orphans(self):
        # The stack runs each child in its own process group and logs its pid; a stack that
        # had to be SIGKILLed leaves them behind, so end them here.
        for match in re.finditer(r"started \w+ \(pid (\d+)\)", self.log()):
            try:
                os.killpg(int(match.group(1)), signal.SIGKILL)
            except ProcessLookupError:
                pass


def set_password_for_servers(user, password):
    """Give `user` a password that a server process started by a test accepts.

    The test process hashes with MD5 (fast, see tests/conftest.py), which the servers'
    production settings do not accept; PBKDF2 with few iterations is accepted and still fast.
    """
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    hasher = PBKDF2PasswordHasher()
    user.password = hasher.encode(password, hasher.salt(), iterations=1000)
    user.save(update_fields=["password"])
    return user


def send_task(env, task_name, *args):
    """Queue a Celery task through the broker in `env`, as beat or a web process would."""
    code = f"from config.celery import app; app.send_task({task_name!r}, args={list(args)!r})"
    manage(env, "shell", "-c", code)
