"""Metric ingestion: Assay's batch endpoint and its MLflow-compatible log-batch against
MLflow's own tracking server, on one PostgreSQL.

Starts a PostgreSQL server in a temporary folder, then, one after the other on that server,
Assay (gunicorn) and an MLflow tracking server with the same number of web workers. C
concurrent clients (processes) each send batches of 1,000 points to their own run for a fixed
time: to Assay's native endpoint, to Assay's /mlflow log-batch (the body MLflow's client
sends), and to MLflow's server; prints the sustained points per second of each and the ratios.
Each server is under the same load for --warm-up seconds before the clock starts, so that a
server that starts slowly (MLflow's does: its first seconds run at half its later rate) is
measured as it runs, not as it wakes.

MLflow goes into its own virtual environment, so that its pins do not fight Assay's:

    python3 -m venv var/bench-venv
    var/bench-venv/bin/pip install mlflow==3.17.2 "psycopg[binary]==3.3.9"

    .venv/bin/python bench/ingest_vs_mlflow.py [--workers 2] [--clients 8] [--seconds 20]
                                               [--warm-up 5]
"""

import argparse
import json
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services import (  # noqa: E402
    PYTHON,
    AppServer,
    PostgresServer,
    free_port,
    service_env,
    wait_for,
)

BATCH = 1000
MLFLOW_BIN = ROOT / "var" / "bench-venv" / "bin" / "mlflow"


def points(step0):
    return [
        {"key": "loss" if i % 2 else "accuracy", "value": random.random(), "step": step0 + i // 2,
         "wall_time": time.time()}
        for i in range(BATCH)
    ]  # fmt: skip


def assay_client(args):
    """One client: its own run, batches of 1,000 points until the deadline."""
    url, key, client, warm_at, start_at, deadline = args
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    base = f"{url}/api/v1/experiments/BENCH-1"
    run = session.post(f"{base}/runs", data=json.dumps({"name": f"client-{client}"})).json()
    metrics_url = f"{base}/runs/{run['id']}/metrics"
    sent, batch = 0, 0
    while time.time() < warm_at:
        time.sleep(0.01)
    while (began := time.time()) < deadline:
        body = {"idempotency_key": f"c{client}-b{batch}", "points": points(batch * BATCH)}
        response = session.post(metrics_url, data=json.dumps(body))
        response.raise_for_status()
        sent += BATCH if began >= start_at else 0
        batch += 1
    return sent


def mlflow_client(args):
    """One client of an MLflow API (MLflow's server, or Assay's at /mlflow with a token)."""
    url, experiment_id, key, client, warm_at, start_at, deadline = args
    session = requests.Session()
    session.headers.update({"Content-Type": "application/json"})
    if key:
        session.headers["Authorization"] = f"Bearer {key}"
    api = f"{url}/api/2.0/mlflow"
    run = session.post(
        f"{api}/runs/create",
        data=json.dumps({"experiment_id": experiment_id, "run_name": f"client-{client}"}),
    ).json()["run"]["info"]["run_id"]
    sent, batch = 0, 0
    while time.time() < warm_at:
        time.sleep(0.01)
    while (began := time.time()) < deadline:
        metrics = [
            {"key": point["key"], "value": point["value"], "step": point["step"],
             "timestamp": int(point["wall_time"] * 1000)}
            for point in points(batch * BATCH)
        ]  # fmt: skip
        response = session.post(
            f"{api}/runs/log-batch", data=json.dumps({"run_id": run, "metrics": metrics})
        )
        response.raise_for_status()
        sent += BATCH if began >= start_at else 0
        batch += 1
    return sent


def load(client_function, target, clients, seconds, warm_up):
    """Sustained points/s of `clients` processes running `client_function` for `seconds`, after
    `warm_up` seconds of the same load; only batches begun on the clock count."""
    warm_at = time.time() + 3  # every client has its run and session before the load starts
    start_at = warm_at + warm_up
    deadline = start_at + seconds
    jobs = [(*target, client, warm_at, start_at, deadline) for client in range(clients)]
    with multiprocessing.Pool(clients) as pool:
        sent = pool.map(client_function, jobs)
    # The last batches finish a little after the deadline; count the time they took.
    elapsed = time.time() - start_at
    return sum(sent) / elapsed, sum(sent)


def setup_assay(database_url):
    env = service_env(DATABASE_URL=database_url)
    subprocess.run([PYTHON, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env,
                   check=True)  # fmt: skip
    script = (
        "import django; django.setup();"
        "from tests.factories import make_experiment, make_token;"
        "print(make_token(experiment=make_experiment(key='BENCH-1'))[1])"
    )
    result = subprocess.run([PYTHON, "-c", script], cwd=ROOT, env=env, check=True,
                            capture_output=True, text=True)  # fmt: skip
    return env, result.stdout.strip().splitlines()[-1]


def start_mlflow(database_url, workers, folder):
    port = free_port()
    log = open(folder / "mlflow.log", "ab")
    process = subprocess.Popen(
        [str(MLFLOW_BIN), "server", "--backend-store-uri", database_url,
         "--default-artifact-root", str(folder / "mlflow-artifacts"),
         "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    def healthy():
        if process.poll() is not None:
            tail = (folder / "mlflow.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"mlflow server exited:\n{tail}")
        try:
            return requests.get(f"{url}/health", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    wait_for(healthy, timeout=180, what="mlflow server")
    return process, url


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="web workers of each server")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--seconds", type=float, default=20, help="load duration per server")
    parser.add_argument("--warm-up", type=float, default=5,
                        help="seconds of load before the clock starts")  # fmt: skip
    args = parser.parse_args()
    if not MLFLOW_BIN.exists():
        sys.exit(f"{MLFLOW_BIN} not found: install MLflow as the docstring says")

    with tempfile.TemporaryDirectory(prefix="assay-bench-") as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)  # PostgreSQL runs as its own user and must reach its folder
        postgres = PostgresServer(folder / "pg").init().start()
        try:
            assay_db = postgres.create_database("assay_bench")
            mlflow_db = postgres.create_database("mlflow_bench")

            env, key = setup_assay(assay_db)
            server = AppServer(env, workers=args.workers, threads=4,
                               log_path=folder / "assay.log").start()  # fmt: skip
            try:
                assay_rate, assay_points = load(
                    assay_client, (server.url, key), args.clients, args.seconds, args.warm_up
                )
                compatible_rate, compatible_points = load(
                    mlflow_client, (f"{server.url}/mlflow", "BENCH-1", key), args.clients,
                    args.seconds, args.warm_up,
                )  # fmt: skip
            finally:
                server.stop()

            process, url = start_mlflow(
                mlflow_db.replace("postgres://", "postgresql://"), args.workers, folder
            )
            try:
                experiment_id = requests.post(
                    f"{url}/api/2.0/mlflow/experiments/create", json={"name": "bench"}, timeout=30
                ).json()["experiment_id"]
                mlflow_rate, mlflow_points = load(
                    mlflow_client, (url, experiment_id, None), args.clients, args.seconds,
                    args.warm_up,
                )  # fmt: skip
            finally:
                os.killpg(process.pid, 15)
                process.wait(30)
        finally:
            postgres.stop()

    print(f"\nIngestion on PostgreSQL, {args.workers} web workers each, {args.clients} clients, "
          f"batches of {BATCH} points, {args.seconds:g} s each after {args.warm_up:g} s of "
          "warm-up")  # fmt: skip
    rows = [
        ("Assay (metrics batch)", assay_rate, assay_points),
        ("Assay /mlflow log-batch", compatible_rate, compatible_points),
        ("MLflow server log-batch", mlflow_rate, mlflow_points),
    ]
    print(f"{'':<26}{'points/s':>12}{'points':>12}{'/ MLflow':>10}")
    for name, rate, count in rows:
        print(f"{name:<26}{rate:>12,.0f}{count:>12,}{rate / mlflow_rate:>9.1f}x")
    print("Target: Assay at least 10x MLflow's server, on either endpoint.")


if __name__ == "__main__":
    main()
