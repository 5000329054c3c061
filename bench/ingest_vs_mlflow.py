"""Metric ingestion: Assay's batch endpoint and its MLflow-compatible log-batch against
MLflow's own tracking server, on one PostgreSQL.

Starts a PostgreSQL server in a temporary folder and, on it, Assay (gunicorn) and an MLflow
tracking server with the same number of web workers. C concurrent clients (processes) each
send batches of 1,000 points to their own run for a fixed time: to Assay's native endpoint,
to Assay's /mlflow log-batch (the body MLflow's client sends), and to MLflow's server; prints
the sustained points per second of each and the ratios. Each server first runs --warm-up
seconds of the same load, unmeasured: MLflow's runs its first seconds at a third of its later
rate, and is measured as it runs, not as it wakes. Then --rounds rounds take the three loads
in turn, so that a machine whose speed drifts (a shared 2-core box does) slows all three alike;
the figures are totals over the rounds, with the spread of the per-round ratios. Last, it
counts the points each database holds against the points its server acknowledged, so that a
fast row is also a row that stored everything it was sent.

MLflow goes into its own virtual environment, so that its pins do not fight Assay's:

    python3 -m venv var/bench-venv
    var/bench-venv/bin/pip install mlflow==3.17.2 "psycopg[binary]==3.3.9"

    .venv/bin/python bench/ingest_vs_mlflow.py [--workers 2] [--clients 8] [--seconds 10]
                                               [--rounds 3] [--warm-up 10]
"""

import argparse
import http.client
import multiprocessing
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import psycopg
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
MLFLOW = "MLflow server log-batch"
MLFLOW_BIN = ROOT / "var" / "bench-venv" / "bin" / "mlflow"


def points(step0):
    return [
        {"key": "loss" if i % 2 else "accuracy", "value": random.random(), "step": step0 + i // 2,
         "wall_time": time.time()}
        for i in range(BATCH)
    ]  # fmt: skip


class Sender:
    """One keep-alive HTTP connection that POSTs JSON bodies. The clients share the machine
    with the servers they measure, so they are kept lean (http.client and orjson instead of
    requests and json: 1 ms of CPU a batch instead of 5.5), the same for all three rows."""

    def __init__(self, url, key=None):
        parts = urlsplit(url)
        self.prefix = parts.path
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self.headers = {"Content-Type": "application/json"}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"

    def post(self, path, body):
        self.connection.request("POST", self.prefix + path, orjson.dumps(body), self.headers)
        response = self.connection.getresponse()
        data = response.read()
        if response.status >= 400:
            raise RuntimeError(f"POST {path}: {response.status} {data[:500]!r}")
        return data


def assay_client(args):
    """One client: its own run, batches of 1,000 points until the deadline."""
    url, key, client, start_at, deadline = args
    sender = Sender(f"{url}/api/v1/experiments/BENCH-1", key)
    run = orjson.loads(sender.post("/runs", {"name": f"client-{client}"}))
    metrics_path = f"/runs/{run['id']}/metrics"
    sent, batch = 0, 0
    while time.time() < start_at:
        time.sleep(0.01)
    sender.connection.close()  # the server may have dropped it while idle; reopened on use
    while time.time() < deadline:
        body = {"idempotency_key": f"c{client}-b{batch}", "points": points(batch * BATCH)}
        sender.post(metrics_path, body)
        sent += BATCH
        batch += 1
    return sent


def mlflow_client(args):
    """One client of an MLflow API (MLflow's server, or Assay's at /mlflow with a token)."""
    url, experiment_id, key, client, start_at, deadline = args
    sender = Sender(f"{url}/api/2.0/mlflow", key)
    created = sender.post("/runs/create", {"experiment_id": experiment_id,
                                           "run_name": f"client-{client}"})  # fmt: skip
    run = orjson.loads(created)["run"]["info"]["run_id"]
    sent, batch = 0, 0
    while time.time() < start_at:
        time.sleep(0.01)
    sender.connection.close()  # the server may have dropped it while idle; reopened on use
    while time.time() < deadline:
        metrics = [
            {"key": point["key"], "value": point["value"], "step": point["step"],
             "timestamp": int(point["wall_time"] * 1000)}
            for point in points(batch * BATCH)
        ]  # fmt: skip
        sender.post("/runs/log-batch", {"run_id": run, "metrics": metrics})
        sent += BATCH
        batch += 1
    return sent


def load(client_function, target, clients, seconds):
    """Sustained points/s of `clients` processes running `client_function` for `seconds`;
    only batches begun on the clock count."""
    start_at = time.time() + 3  # every client has its run and connection before the clock
    deadline = start_at + seconds
    jobs = [(*target, client, start_at, deadline) for client in range(clients)]
    with multiprocessing.Pool(clients) as pool:
        sent = pool.map(client_function, jobs)
    # The last batches finish a little after the deadline; count the time they took.
    elapsed = time.time() - start_at
    return sum(sent) / elapsed, sum(sent)


def overall(rounds):
    """(points/s, points) over several loads' (rate, points): over the time they took, the
    tail of each included."""
    total = sum(points for _, points in rounds)
    return total / sum(points / rate for rate, points in rounds), total


# Assay packs a run's curve points into chunks (experiments/models/chunks.py): their counts
# add up to the points stored; MLflow keeps a row per point.
ASSAY_POINTS = 'SELECT coalesce(sum("count"), 0) FROM experiments_serieschunk'
MLFLOW_POINTS = "SELECT count(*) FROM metrics"


def stored_points(database_url, query):
    with psycopg.connect(database_url.replace("postgres://", "postgresql://")) as connection:
        return connection.execute(query).fetchone()[0]


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
    parser.add_argument("--seconds", type=float, default=10, help="load per server per round")
    parser.add_argument("--rounds", type=int, default=3,
                        help="rounds of the three loads, one after the other")  # fmt: skip
    parser.add_argument("--warm-up", type=float, default=10,
                        help="seconds of load on each server before the first round")  # fmt: skip
    args = parser.parse_args()
    if not MLFLOW_BIN.exists():
        sys.exit(f"{MLFLOW_BIN} not found: install MLflow as the docstring says")

    with tempfile.TemporaryDirectory(prefix="assay-bench-") as tmp:
        folder = Path(tmp)
        folder.chmod(0o755)  # PostgreSQL runs as its own user and must reach its folder
        postgres = PostgresServer(folder / "pg").init().start()
        server = process = None
        try:
            assay_db = postgres.create_database("assay_bench")
            mlflow_db = postgres.create_database("mlflow_bench")
            env, key = setup_assay(assay_db)
            server = AppServer(env, workers=args.workers, threads=4,
                               log_path=folder / "assay.log").start()  # fmt: skip
            process, url = start_mlflow(
                mlflow_db.replace("postgres://", "postgresql://"), args.workers, folder
            )
            experiment_id = requests.post(
                f"{url}/api/2.0/mlflow/experiments/create", json={"name": "bench"}, timeout=30
            ).json()["experiment_id"]
            compatible = (f"{server.url}/mlflow", "BENCH-1", key)
            loads = {
                "Assay (metrics batch)": (assay_client, (server.url, key)),
                "Assay /mlflow log-batch": (mlflow_client, compatible),
                MLFLOW: (mlflow_client, (url, experiment_id, None)),
            }
            print(f"Warming up each server for {args.warm_up:g} s", flush=True)
            warm_up = {name: load(function, target, args.clients, args.warm_up)[1]
                       for name, (function, target) in loads.items()}  # fmt: skip
            rounds = {name: [] for name in loads}
            for number in range(args.rounds):
                for name, (function, target) in loads.items():
                    rounds[name].append(load(function, target, args.clients, args.seconds))
                mlflow_rate = rounds[MLFLOW][-1][0]
                latest = [f"{name} {done[-1][0]:,.0f} points/s ({done[-1][0] / mlflow_rate:.1f}x)"
                          for name, done in rounds.items()]  # fmt: skip
                print(f"round {number + 1}: " + ", ".join(latest), flush=True)
            acknowledged = {name: warm_up[name] + sum(points for _, points in rounds[name])
                            for name in loads}  # fmt: skip
            assay_sent = (
                acknowledged["Assay (metrics batch)"] + acknowledged["Assay /mlflow log-batch"]
            )
            assay_held = stored_points(assay_db, ASSAY_POINTS)
            stored = {
                "Assay (both endpoints)": (assay_held, assay_sent),
                "MLflow's server": (stored_points(mlflow_db, MLFLOW_POINTS), acknowledged[MLFLOW]),
            }
        finally:
            if process is not None:
                os.killpg(process.pid, 15)
                process.wait(30)
            if server is not None:
                server.stop()
            postgres.stop()

    print(f"\nIngestion on PostgreSQL, {args.workers} web workers each, {args.clients} clients, "
          f"batches of {BATCH} points; {args.rounds} rounds of {args.seconds:g} s on each server, "
          f"interleaved, after {args.warm_up:g} s of warm-up each; box: {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.1f}")  # fmt: skip
    mlflow_rate, _ = overall(rounds[MLFLOW])
    print(f"{'':<26}{'points/s':>12}{'points':>12}{'/ MLflow':>10}{'per round':>20}")
    for name, done in rounds.items():
        rate, total = overall(done)
        ratios = [rate / theirs for (rate, _), (theirs, _) in
                  zip(done, rounds[MLFLOW], strict=True)]  # fmt: skip
        spread = f"{min(ratios):.1f}x-{max(ratios):.1f}x"
        print(f"{name:<26}{rate:>12,.0f}{total:>12,}{rate / mlflow_rate:>9.1f}x{spread:>20}")
    print("Target: Assay at least 10x MLflow's server, on either endpoint.")
    for name, (held, sent) in stored.items():
        print(f"Stored: {name} holds {held:,} points of the {sent:,} its server acknowledged"
              f" (warm-up included){'' if held == sent else '  <-- MISMATCH'}")  # fmt: skip
    if any(held != sent for held, sent in stored.values()):
        sys.exit("a server acknowledged points it did not store")


if __name__ == "__main__":
    main()
