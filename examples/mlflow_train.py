"""A training script written for MLflow, with MLflow's public API only, that reports to Assay
unchanged: Assay serves MLflow's tracking API under /mlflow.

    pip install mlflow-skinny
    export MLFLOW_TRACKING_URI=http://127.0.0.1:8000/mlflow
    export MLFLOW_TRACKING_TOKEN=$(python manage.py experiment_token EXP-12)
    python examples/mlflow_train.py --experiment EXP-12 --seeds 3

It fits a baseline and a candidate (a larger learning rate) by gradient descent on a noisy
linear problem, for each seed: params with mlflow.log_params, tags with mlflow.set_tags,
loss and accuracy every step with mlflow.log_metrics, a final evaluation in one
MlflowClient().log_batch, and with --save-model the model file with mlflow.log_artifact
(Assay needs ASSAY_MLFLOW_ARTIFACT_ROOT for that). The variant and the seed go in the tags
assay.variant and assay.seed. Every few steps it reads the run's tags back: when Assay sets
assay.should_stop to "true" (a hard kill criterion tripped, or the time-box ran out) it ends
the run KILLED.

`--diverge-seed N` makes the candidate's seed N diverge (its loss grows tenfold a step), the
failure a kill criterion such as "mean loss of candidate >= 2" is there for.
"""

import argparse
import json
import random
import tempfile
import time
from pathlib import Path

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

LEARNING_RATES = {"baseline": 0.05, "candidate": 0.1}


def train(client, *, variant, seed, steps, diverge, check_every, step_delay, save_model):
    """One run; returns how it ended (FINISHED or KILLED)."""
    rng = random.Random(seed)
    learning_rate = LEARNING_RATES[variant]
    tags = {"assay.variant": variant, "assay.seed": str(seed)}
    with mlflow.start_run(run_name=f"{variant}-seed{seed}", tags=tags) as run:
        mlflow.log_params({"learning_rate": learning_rate, "steps": steps, "optimizer": "sgd"})
        mlflow.set_tags({"team": "ml-platform", "dataset": "synthetic-linear"})
        weight, loss, accuracy = 0.0, 1.0, 0.5
        for step in range(steps):
            if diverge and step > 10:
                loss *= 10  # tenfold a step
            else:
                weight += learning_rate * (1.0 - weight) + rng.gauss(0, 0.01)
                loss = (1.0 - weight) ** 2 + rng.uniform(0, 0.01)
                accuracy = min(1.0, 0.5 + 0.45 * weight + rng.uniform(0, 0.02))
            mlflow.log_metrics({"loss": loss, "accuracy": accuracy}, step=step)
            if step % check_every == check_every - 1:
                run_tags = client.get_run(run.info.run_id).data.tags
                if run_tags.get("assay.should_stop") == "true":
                    print(f"{variant} seed {seed}: stopped at step {step}: "
                          f"{run_tags.get('assay.stop_reasons')}", flush=True)  # fmt: skip
                    mlflow.end_run(status="KILLED")
                    return "KILLED"
            time.sleep(step_delay)
        if save_model:
            # Written by MLflow's client straight to the run's artifact_uri (the team's store);
            # the tag tells Assay where it is.
            path = Path(tempfile.mkdtemp()) / "model.json"
            path.write_text(json.dumps({"weight": weight, "variant": variant, "seed": seed}))
            mlflow.log_artifact(str(path))
            mlflow.set_tag("assay.artifact.checkpoint", f"{run.info.artifact_uri}/model.json")
        now = int(time.time() * 1000)
        client.log_batch(
            run.info.run_id,
            metrics=[Metric("eval_accuracy", accuracy, now, steps)],
            params=[Param("eval_set", "held-out")],
            tags=[RunTag("evaluated", "true")],
        )
    print(f"{variant} seed {seed}: finished, accuracy {accuracy:.3f}", flush=True)
    return "FINISHED"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--experiment", required=True, help="the Assay experiment key")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--diverge-seed", type=int, default=None)
    parser.add_argument("--check-every", type=int, default=5, help="steps between should-stop")
    parser.add_argument("--step-delay", type=float, default=0.0, help="seconds per step")
    parser.add_argument(
        "--save-model", action="store_true", help="log the model as an artifact (needs a store)"
    )
    args = parser.parse_args()

    mlflow.set_experiment(args.experiment)
    client = MlflowClient()
    for seed in range(1, args.seeds + 1):
        for variant in ("baseline", "candidate"):
            diverge = variant == "candidate" and seed == args.diverge_seed
            train(client, variant=variant, seed=seed, steps=args.steps, diverge=diverge,
                  check_every=args.check_every, step_delay=args.step_delay,
                  save_model=args.save_model)  # fmt: skip


if __name__ == "__main__":
    main()
