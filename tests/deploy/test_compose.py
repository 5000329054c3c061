"""docker-compose.yml and the Dockerfile describe the production stack (issue 2).

No Docker engine runs in CI, so the compose file is validated by Debian's docker-compose
(`config -q` checks it against the Compose specification and resolves anchors and variables),
and its structure is checked here: the services an operator relies on are there and wired up.
"""

import subprocess

import pytest
import yaml

from tests.services import ROOT, require_binary

SECRET = "s" * 64
ASSAY_SERVICES = ("web", "worker", "beat", "gpu-worker")


def _compose_env():
    return {"PATH": "/usr/bin:/bin", "SECRET_KEY": SECRET, "HOME": "/tmp"}


def compose_config(**variables):
    """The compose file as docker-compose resolves it (anchors merged, variables filled)."""
    binary = require_binary("docker-compose")
    result = subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config"],
        cwd=ROOT, env={**_compose_env(), **variables}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


@pytest.fixture(scope="module")
def compose():
    return compose_config()


def test_compose_file_is_valid_for_docker_compose():
    binary = require_binary("docker-compose")
    result = subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        cwd=ROOT, env=_compose_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_a_secret_key():
    binary = require_binary("docker-compose")
    env = _compose_env()
    del env["SECRET_KEY"]
    result = subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_compose_has_the_production_services(compose):
    services = compose["services"]
    assert set(services) >= {"db", "redis", "web", "worker", "beat", "gpu-worker"}
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    # web runs migrations, then gunicorn (deploy/stack.py --release --only web).
    assert services["web"]["command"][1:5] == ["deploy/stack.py", "--release", "--only", "web"]
    assert any(port["target"] == 8000 for port in _ports(services["web"]))
    assert "beat" in services["beat"]["command"]


def _ports(service):
    ports = service.get("ports", [])
    # docker-compose 1.29 writes "127.0.0.1:8000:8000/tcp"; the Compose spec a mapping.
    return [
        p if isinstance(p, dict) else {"target": int(str(p).rsplit(":", 1)[-1].split("/")[0])}
        for p in ports
    ]


def _volume_target(volume):
    # docker-compose 1.29 writes "name:/target:rw"; the Compose spec's long form is a mapping.
    return volume["target"] if isinstance(volume, dict) else volume.split(":")[1]


def test_every_assay_service_talks_to_postgres_and_redis_and_waits_for_them(compose):
    for name in ASSAY_SERVICES:
        service = compose["services"][name]
        env = service["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@db:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["SECRET_KEY"] == SECRET
        assert env["DEBUG"] == "false"
        assert service["depends_on"]["db"]["condition"] == "service_healthy"
        assert service["depends_on"]["redis"]["condition"] == "service_healthy"
        # The vector indexes the GPU worker builds are read by web: one shared data volume.
        assert "/data" in [_volume_target(volume) for volume in service["volumes"]]


def test_gpu_worker_serves_the_gpu_queue_on_an_nvidia_device(compose):
    services = compose["services"]
    gpu = services["gpu-worker"]
    command = gpu["command"]
    assert command[:4] == ["celery", "-A", "config", "worker"]
    assert command[command.index("-Q") + 1] == "gpu"
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    # Everyone sends embedding jobs to that queue; the CPU worker does not take them.
    for name in ASSAY_SERVICES:
        assert services[name]["environment"]["ASSAY_EMBEDDING_QUEUE"] == "gpu"
    worker_command = services["worker"]["command"]
    assert worker_command[worker_command.index("-Q") + 1] == "celery"


def test_dockerfile_installs_cpu_torch_before_the_requirements():
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    torch_line = next(i for i, line in enumerate(lines) if "torch==2.13.0" in line)
    requirements_line = next(i for i, line in enumerate(lines) if "-r requirements.txt" in line)
    assert torch_line < requirements_line
    assert any(line.startswith("ARG TORCH_INDEX_URL=") and "/cpu" in line for line in lines)
    assert "torch" not in (ROOT / "requirements.txt").read_text().split("#", 1)[0].lower()


def test_commands_in_compose_point_at_files_that_exist(compose):
    for name in ASSAY_SERVICES:
        for part in compose["services"][name]["command"]:
            if part.endswith(".py"):
                assert (ROOT / part).is_file(), f"{name} runs {part}, which does not exist"


def test_the_web_port_is_published_on_this_machine_only_unless_told_otherwise(compose):
    (port,) = compose["services"]["web"]["ports"]
    # docker-compose 1.29 writes "127.0.0.1:8000:8000"; the Compose spec's long form a mapping.
    published = port if isinstance(port, str) else f"{port['host_ip']}:{port['published']}"
    assert published.startswith("127.0.0.1:8000")
    (everywhere,) = compose_config(ASSAY_PUBLISH_ADDRESS="0.0.0.0")["services"]["web"]["ports"]
    assert "0.0.0.0" in str(everywhere)


def test_the_web_health_check_uses_the_allowed_host_script(compose):
    assert compose["services"]["web"]["healthcheck"]["test"] == [
        "CMD", "python", "deploy/healthcheck.py"
    ]  # fmt: skip


def test_the_health_check_passes_with_a_real_host_name_in_allowed_hosts(tmp_path):
    """The compose health check against gunicorn configured for production (HTTPS on)."""
    import os
    import signal

    from tests.services import BIN_DIR, PYTHON, free_port, service_env, wait_for

    port = free_port()
    env = service_env(ALLOWED_HOSTS="assay.example.org", SECRET_KEY=SECRET, DATABASE_URL=None,
                      REDIS_URL=None, ASSAY_DATA_DIR=str(tmp_path), ASSAY_HTTPS=None)  # fmt: skip
    server = subprocess.Popen(
        [str(BIN_DIR / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip

    def check(**variables):
        return subprocess.run(
            [PYTHON, str(ROOT / "deploy" / "healthcheck.py"), f"http://127.0.0.1:{port}/healthz"],
            env={**env, **variables}, capture_output=True, text=True, timeout=30,
        )  # fmt: skip

    try:
        wait_for(lambda: check().returncode == 0, timeout=60, what="the health check to pass")
        # The check it replaces (no Host header of the site) calls a healthy server unhealthy.
        old_style = check(ALLOWED_HOSTS="127.0.0.1")
        assert old_style.returncode == 1 and "400" in old_style.stderr
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(15)
