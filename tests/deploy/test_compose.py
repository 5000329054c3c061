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


@pytest.fixture(scope="module")
def compose():
    """The compose file as docker-compose resolves it (anchors merged, variables filled)."""
    binary = require_binary("docker-compose")
    result = subprocess.run(
        [binary, "-f", str(ROOT / "docker-compose.yml"), "config"],
        cwd=ROOT, env=_compose_env(), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


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
    return [p if isinstance(p, dict) else {"target": int(str(p).rsplit(":", 1)[-1])} for p in ports]


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
