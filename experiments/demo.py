"""Demo data for this app, loaded by `manage.py load_demo`.

Five experiments on demo radar techniques: one past its Discovery gate, one fresh, one
flagged by a tripped hard kill criterion (and a NaN loss), one killed with a post-mortem, and
one porting training from H100 to MI300X whose loss drifts beyond tolerance after step 180.
Runs report through Run.log_points, the path the API takes, so the evidence pages read the
same summaries they read in production.
"""

import datetime
import math
from decimal import Decimal

import numpy as np
from django.utils import timezone
from django.utils.text import slugify

from radar.models import Quadrant, Technique

from .models import (
    ActionItem,
    Criterion,
    Experiment,
    Failure,
    Forecast,
    PostMortem,
    Prediction,
    Run,
)

STEPS = 300
SEEDS = (1, 2, 3)
DAY = datetime.timedelta(days=1)


def load(users, stdout=None):
    """Create this app's demo rows. `users` maps demo usernames to User objects."""
    rng = np.random.default_rng(7)
    alice, bob, dana = users["alice"], users["bob"], users["dana"]
    today = timezone.localdate()

    speculative = _experiment(
        "EXP-1",
        "Speculative decoding for the chat endpoint",
        "Speculative decoding",
        owner=bob,
        hypothesis="A 1B draft model cuts median chat latency by more than 20% on production "
        "traffic without lowering answer accuracy by more than 1%.",
        engineer_weeks="3",
        compute_cost="2500",
        expected_benefit_per_month="9000",
        started=today - 24 * DAY,
    )
    _criterion(speculative, "success", metric="latency_ms", aggregation="median",
               comparator="lt", threshold=-20, relative=True, min_seeds=3)  # fmt: skip
    _criterion(speculative, "kill", severity="hard", metric="accuracy", aggregation="mean",
               comparator="lt", threshold=-1, relative=True, min_seeds=3)  # fmt: skip
    tokenizer = _criterion(speculative, "success", statement="Draft and target share our tokenizer")
    _report(speculative, rng, accuracy=(0.812, 0.809), latency=(142.0, 97.0), days_ago=16)
    tokenizer.check_by_hand(by=bob, holds=True, note="Same SentencePiece vocabulary")
    speculative.evaluate()
    speculative.decide_gate(
        "yes", by=alice, notes="Latency win is large and accuracy holds on all three seeds."
    )
    speculative.set_timebox(
        "validation",
        starts_on=today - 10 * DAY,
        deadline=today + 18 * DAY,
        by=alice,
        reason="Validation started when the gate was signed, ten days ago.",
    )

    lora = _experiment(
        "EXP-2",
        "LoRA r=16 instead of full fine-tuning for support replies",
        "LoRA",
        owner=dana,
        hypothesis="LoRA r=16 matches full fine-tuning within 1 point of accuracy on the "
        "support set at a tenth of the GPU-hours.",
        engineer_weeks="2",
        compute_cost="800",
        expected_benefit_per_month="3000",
        started=today - 5 * DAY,
    )
    _criterion(lora, "success", metric="accuracy", aggregation="p5", comparator="ge",
               threshold=0.7, min_seeds=3)  # fmt: skip
    _criterion(lora, "kill", severity="soft", metric="accuracy", aggregation="mean",
               comparator="lt", threshold=-3, relative=True, min_seeds=2)  # fmt: skip
    _report(lora, rng, accuracy=(0.742, 0.735), latency=(61.0, 60.0), days_ago=2)
    lora.evaluate()

    fp8 = _experiment(
        "EXP-3",
        "FP8 training for the 7B model",
        "FP8 training",
        owner=bob,
        hypothesis="FP8 mixed precision trains the 7B 1.4x faster with final loss within 1% "
        "of BF16.",
        engineer_weeks="4",
        compute_cost="12000",
        expected_benefit_per_month="6000",
        started=today - 12 * DAY,
    )
    _criterion(fp8, "kill", severity="hard", metric="accuracy", aggregation="mean",
               comparator="lt", threshold=-5, relative=True, min_seeds=2)  # fmt: skip
    _criterion(fp8, "success", metric="loss", aggregation="max", comparator="lt", threshold=2.5)
    _report(fp8, rng, accuracy=(0.801, 0.731), latency=(88.0, 63.0), days_ago=3, nan_loss=True)
    fp8.evaluate()

    mtp = _experiment(
        "EXP-4",
        "Multi-token prediction heads for code completion",
        "Multi-token prediction",
        owner=dana,
        hypothesis="Four prediction heads raise pass@1 on our code set by 2 points at equal "
        "training compute.",
        engineer_weeks="6",
        compute_cost="20000",
        expected_benefit_per_month="4000",
        started=today - 60 * DAY,
    )
    _criterion(mtp, "success", metric="accuracy", aggregation="mean", comparator="gt",
               threshold=2, relative=True, min_seeds=3)  # fmt: skip
    _report(mtp, rng, accuracy=(0.405, 0.401), latency=(30.0, 34.0), days_ago=40)
    mtp.evaluate()
    # Passed against its own criterion: the demo's decision against the evidence.
    mtp.decide_gate(
        "yes",
        by=alice,
        notes="Prototype trains stably.",
        override_reason="The +2% needs the 7B scale that only Validation can test.",
    )
    mtp.decide_gate(
        "no",
        by=alice,
        learnings="Gains seen at 1B vanished at 7B: extra heads compete for capacity.",
    )
    postmortem = PostMortem.objects.create(
        experiment=mtp,
        author=dana,
        timeline="Read the paper in the spring; the 1B prototype looked promising; the 7B runs "
        "in validation showed no gain on three seeds.",
        root_cause="We validated at 1B only; the paper's gains were reported at 13B+, and our "
        "7B sits in the range the paper did not test.",
        lessons="Test at the production model size before passing the Discovery gate.",
    )
    Failure.objects.create(
        postmortem=postmortem,
        category="prototype",
        description="Prototype at 1B did not predict behaviour at 7B (scale surprise).",
    )
    Failure.objects.create(
        postmortem=postmortem,
        category="paper",
        description="Missed that the paper's smallest model was 13B.",
    )
    ActionItem.objects.create(
        postmortem=postmortem,
        description="Add 'model sizes tested in the paper' to the reading checklist",
        owner=alice,
        due_on=today + 14 * DAY,
    )
    ActionItem.objects.create(
        postmortem=postmortem,
        description="Discovery prototypes run at production size when it fits in a day",
        owner=dana,
        due_on=today + 30 * DAY,
    )

    _predictions(speculative, fp8, mtp, alice=alice, bob=bob, dana=dana, today=today)
    _port(rng, owner=dana, today=today)
    if stdout:
        stdout.write(f"  experiments: {Experiment.objects.count()} with runs, gates and flags")


def _technique(name, owner):
    """The demo radar's technique of that name, put on the radar in ASSESS if missing."""
    technique = Technique.objects.filter(name=name).first()
    if technique is None:
        quadrant = Quadrant.objects.first() or Quadrant.objects.create(name="Techniques")
        technique = Technique(name=name, slug=slugify(name), quadrant=quadrant)
        technique.move_to(
            "assess", by=owner, reason="Put on the radar for an experiment", owner=owner
        )
    return technique


def _experiment(key, title, technique, *, owner, started, **fields):
    return Experiment.objects.create_recorded(
        by=owner,
        starts_on=started,
        deadline=started + 14 * DAY,
        key=key,
        title=title,
        technique=_technique(technique, owner),
        created_at=timezone.now() - (timezone.localdate() - started),
        engineer_weeks=Decimal(fields.pop("engineer_weeks")),
        compute_cost=Decimal(fields.pop("compute_cost")),
        expected_benefit_per_month=Decimal(fields.pop("expected_benefit_per_month")),
        **fields,
    )


def _criterion(experiment, kind, *, severity="", relative=False, **fields):
    criterion = Criterion(
        experiment=experiment,
        kind=kind,
        severity=severity,
        relative_to_baseline=relative,
        created_by=experiment.owner,
        **fields,
    )
    criterion.full_clean()
    criterion.save()
    return criterion


def _report(experiment, rng, *, accuracy, latency, days_ago, nan_loss=False):
    """Baseline and candidate over three seeds: a loss curve, an accuracy curve, accuracy per
    sequence-length bucket, and final summaries (accuracy, latency_ms)."""
    started = timezone.now() - days_ago * DAY
    for variant, final_accuracy, final_latency in (
        ("baseline", accuracy[0], latency[0]),
        ("candidate", accuracy[1], latency[1]),
    ):
        for seed in SEEDS:
            seed_accuracy = final_accuracy + rng.normal(0, 0.004)
            seed_latency = final_latency * (1 + rng.normal(0, 0.02))
            run = Run.objects.create(
                experiment=experiment,
                name=f"{variant}-s{seed}",
                variant=variant,
                seed=seed,
                params={"lr": 2e-4, "batch_size": 64},
                host=f"gpu-node-{seed}",
                gpu="1x H100 80GB",
                started_at=started,
            )
            steps = np.arange(STEPS)
            loss = 2.4 * np.exp(-steps / 80) + 0.6 + rng.normal(0, 0.03, STEPS)
            curve = seed_accuracy * (1 - np.exp(-steps / 60)) + rng.normal(0, 0.005, STEPS)
            diverges = nan_loss and variant == "candidate" and seed == 3
            if diverges:
                loss[250:] = np.linspace(3, 40, STEPS - 250)
                loss[-1] = math.nan
            points = [
                {"key": "loss", "step": int(step), "value": float(value)}
                for step, value in zip(steps, loss, strict=True)
            ] + [
                {"key": "accuracy", "step": int(step), "value": float(value)}
                for step, value in zip(steps, curve, strict=True)
            ]
            for bucket, offset in (("short", 0.03), ("medium", 0.0), ("long", -0.06)):
                long_penalty = -0.05 if bucket == "long" and variant == "candidate" else 0
                points.append(
                    {
                        "key": "accuracy",
                        "step": STEPS,
                        "bucket": bucket,
                        "value": float(seed_accuracy + offset + long_penalty),
                    }
                )
            run.log_points(points, idempotency_key=f"demo-{run.pk}")
            run.finish(
                status="failed" if diverges else "finished",
                summary={"accuracy": round(seed_accuracy, 4), "latency_ms": round(seed_latency, 1)},
            )


DRIFT_STEP = 180
H100 = {"accelerator_vendor": "nvidia", "accelerator_model": "H100 80GB HBM3",
        "runtime": "cuda", "runtime_version": "12.4", "driver_version": "550.54.15"}  # fmt: skip
MI300X = {"accelerator_vendor": "amd", "accelerator_model": "MI300X", "runtime": "rocm",
          "runtime_version": "6.2.41133"}  # fmt: skip


def _port(rng, *, owner, today):
    """The same 7B recipe on H100 and MI300X in bf16, seed for seed: the MI300X loss follows
    the H100 one to within 1e-4 until DRIFT_STEP, then strays (a fused kernel's reduction)."""
    port = _experiment(
        "EXP-5",
        "Train the 7B on AMD MI300X",
        "MI300X training",
        owner=owner,
        hypothesis="Our 7B recipe trains on MI300X with a loss within 0.1% of the H100 run at "
        "every step, in bf16 as on H100.",
        engineer_weeks="2",
        compute_cost="8000",
        expected_benefit_per_month="5000",
        started=today - 5 * DAY,
    )
    reference_platform = "NVIDIA H100 80GB HBM3 · bf16"
    _criterion(port, "success", metric="loss", check_kind="matches_reference",
               reference_platform=reference_platform, platform="AMD MI300X · bf16",
               rel_tolerance=1e-3, aggregation="", comparator="", threshold=None)  # fmt: skip
    steps = np.arange(STEPS * 4)
    started = timezone.now() - 2 * DAY
    for seed in (1, 2):
        loss = 2.4 * np.exp(-steps / 300) + 0.6 + rng.normal(0, 0.02, len(steps))
        drift = np.where(steps < DRIFT_STEP, 0.0, (steps - DRIFT_STEP) / len(steps) * 0.02)
        jitter = rng.normal(0, 1e-4, len(steps))
        for name, platform, values in (
            (f"h100-bf16-s{seed}", H100, loss),
            (f"mi300x-bf16-s{seed}", MI300X, loss * (1 + jitter + drift)),
        ):
            run = Run.objects.create(
                experiment=port, name=name, variant="candidate", seed=seed,
                params={"lr": 3e-4, "batch_size": 256, "dtype": "bf16"},
                host=f"{name.split('-')[0]}-node-{seed}", accelerator_count=8,
                framework="torch", framework_version="2.5.1", precision="bf16",
                started_at=started, **platform,
            )  # fmt: skip
            run.log_points(
                [{"key": "loss", "step": int(step), "value": float(value)}
                 for step, value in zip(steps, values, strict=True)],
                idempotency_key=f"demo-{run.pk}",
            )  # fmt: skip
            run.finish(summary={"loss": round(float(values[-1]), 4)})
    port.evaluate()


def _predictions(speculative, fp8, mtp, *, alice, bob, dana, today):
    rows = [
        (speculative, "Validation confirms a >20% median latency cut on production traffic",
         today + 20 * DAY, None, {alice: 0.75, bob: 0.9, dana: 0.6}),
        (fp8, "FP8 reaches BF16 loss within 1% on the 7B", today + 10 * DAY, None,
         {alice: 0.4, bob: 0.8}),
        (mtp, "Multi-token heads gain 2 points pass@1 at 7B", today - 20 * DAY, False,
         {alice: 0.3, bob: 0.7, dana: 0.8}),
        (speculative, "The Discovery prototype shows a >15% latency cut", today - 12 * DAY, True,
         {alice: 0.7, bob: 0.85, dana: 0.5}),
    ]  # fmt: skip
    for experiment, statement, resolve_by, outcome, forecasts in rows:
        prediction = Prediction.objects.create(
            experiment=experiment, statement=statement, resolve_by=resolve_by, created_by=alice
        )
        # bulk_create: the demo back-dates resolved predictions, which Forecast.make refuses.
        Forecast.objects.bulk_create(
            Forecast(
                prediction=prediction,
                forecaster=user,
                probability=probability,
                reasoning=f"{user}'s reading of the Discovery evidence.",
            )
            for user, probability in forecasts.items()
        )
        if outcome is not None:
            prediction.resolve(outcome=outcome, by=alice)
