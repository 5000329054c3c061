"""A tiny PyTorch training on CPU (a few seconds) that reports to Assay through assay_client.

It trains a baseline and a candidate classifier over several seeds on a synthetic
two-spirals task, at full speed: it logs loss and test accuracy every step (a few
milliseconds each), evaluation accuracy per stratum ("near-centre", "far") at the end, and
checks `run.should_stop()` after every step (answered at once from the client's background
poll), ending the run itself when Assay says stop (a hard kill criterion tripped, or the
time-box ran out).

    export ASSAY_URL=http://127.0.0.1:8000 ASSAY_TOKEN=$(python manage.py experiment_token EXP-12)
    python examples/train_example.py --experiment EXP-12 --seeds 3

The candidate is a wider network; `--candidate-label-noise 0.45` makes it a bad idea (its
training labels are mostly wrong), which a kill criterion such as "candidate accuracy drops
more than 5% against baseline" should catch.
"""

import argparse
import math
import os
import sys
import time

import assay_client
import torch
from torch import nn


def spirals(count, generator):
    """Two interleaved spirals: points and labels (0 or 1)."""
    labels = torch.randint(0, 2, (count,), generator=generator)
    radius = torch.rand(count, generator=generator) * 3 + 0.3
    angle = radius * 2.2 + labels * math.pi
    points = torch.stack([radius * torch.cos(angle), radius * torch.sin(angle)], dim=1)
    return points + torch.randn(count, 2, generator=generator) * 0.08, labels


def train(run, *, seed, hidden, label_noise, steps, step_delay):
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    train_x, train_y = spirals(512, generator)
    test_x, test_y = spirals(512, generator)
    flip = torch.rand(len(train_y), generator=generator) < label_noise
    train_y = torch.where(flip, 1 - train_y, train_y)

    model = nn.Sequential(
        nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 2)
    )
    optimiser = torch.optim.Adam(model.parameters(), lr=0.03)
    loss_fn = nn.CrossEntropyLoss()
    accuracy = 0.0
    stopped = False
    for step in range(steps):
        optimiser.zero_grad()
        loss = loss_fn(model(train_x), train_y)
        loss.backward()
        optimiser.step()
        with torch.no_grad():
            accuracy = (model(test_x).argmax(1) == test_y).float().mean()
        # Tensors go in as they are: the client turns 0-d tensors into floats.
        run.log({"loss": loss, "accuracy": accuracy}, step=step)
        accuracy = accuracy.item()
        if run.should_stop():
            print(
                f"  {run.create_payload['name']}: Assay says stop at step {step}: "
                f"{'; '.join(run.stop_reasons)}"
            )
            stopped = True
            break
        if step_delay:
            time.sleep(step_delay)

    with torch.no_grad():
        predicted = model(test_x).argmax(1)
    near = test_x.norm(dim=1) < 1.5
    for bucket, mask in (("near-centre", near), ("far", ~near)):
        bucket_accuracy = (predicted[mask] == test_y[mask]).float().mean().item()
        run.log({"accuracy": bucket_accuracy}, step=step, bucket=bucket)
    run.summary["accuracy"] = accuracy
    return accuracy, stopped


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--experiment",
        default=os.environ.get("ASSAY_EXPERIMENT"),
        help="experiment key, e.g. EXP-12 (default: $ASSAY_EXPERIMENT)",
    )
    parser.add_argument("--seeds", type=int, default=3, help="seeds per variant (default 3)")
    parser.add_argument("--steps", type=int, default=150, help="training steps (default 150)")
    parser.add_argument("--candidate-hidden", type=int, default=64)
    parser.add_argument("--candidate-label-noise", type=float, default=0.0)
    parser.add_argument(
        "--step-delay",
        type=float,
        default=0.0,
        help="seconds to sleep per step, to watch a run live (default 0: full speed)",
    )
    args = parser.parse_args(argv)
    # Threads only add overhead for a network this small.
    torch.set_num_threads(1)
    if not args.experiment:
        parser.error("--experiment is required (or set ASSAY_EXPERIMENT)")

    variants = [
        ("baseline", {"hidden": 16, "label_noise": 0.0}),
        ("candidate", {"hidden": args.candidate_hidden, "label_noise": args.candidate_label_noise}),
    ]
    stopped_runs = 0
    for variant, params in variants:
        for seed in range(1, args.seeds + 1):
            name = f"{variant}-s{seed}"
            with assay_client.start_run(
                experiment=args.experiment,
                name=name,
                variant=variant,
                seed=seed,
                params={**params, "steps": args.steps},
            ) as run:
                accuracy, stopped = train(
                    run, seed=seed, steps=args.steps, step_delay=args.step_delay, **params
                )
            stopped_runs += stopped
            print(f"{name}: accuracy {accuracy:.3f}{' (stopped early)' if stopped else ''}")
            if stopped:
                print("Experiment says stop: no more runs.")
                return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
