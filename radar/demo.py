"""Demo data for the radar, loaded by `manage.py load_demo`: a living ML research radar with
history, two past reviews, pending nominations and a few stale items."""

import datetime

from django.utils import timezone

from .models import OWNED_RINGS, Nomination, Quadrant, Review, Ring, Tag, Technique

QUADRANTS = ["Training", "Inference & serving", "Architectures", "Data & evaluation"]

# name, quadrant, bucket, tags, description, history, final state.
# history: (days ago, ring, reason, extra move fields); the first entry adds the technique.
# final state: owner, next action, due in N days (negative: overdue), touched N days ago.
TECHNIQUES = [
    (
        "Flash Attention 3",
        "Training",
        "core",
        ["kernels", "h100"],
        "IO-aware exact attention using Hopper's asynchronous TMA and FP8 "
        "([Shah et al. 2024](https://arxiv.org/abs/2407.08608)). 1.5-2x over FA2 on H100.",
        [
            (200, "assess", "H100 fleet arrives in Q3; FA3 is written for Hopper", {}),
            (
                60,
                "trial",
                "Kernel benchmark: 1.7x forward throughput at 8k context",
                {"review": 0, "evidence_links": ["https://arxiv.org/abs/2407.08608"]},
            ),
            (30, "adopt", "Two training runs matched FA2 loss curves at 1.6x speed", {"review": 1}),
        ],
        ("alice", "Upgrade the training images to FA3 kernels", 20, 10),
    ),
    (
        "LoRA",
        "Training",
        "core",
        ["fine-tuning"],
        "Low-rank adapters on frozen weights ([Hu et al. 2021](https://arxiv.org/abs/2106.09685)).",
        [
            (400, "trial", "Matched full fine-tuning on our support-ticket classifier", {}),
            (300, "adopt", "Default for every customer fine-tune since Q1", {}),
        ],
        (None, "", None, 40),
    ),
    (
        "QLoRA",
        "Training",
        "adjacency",
        ["fine-tuning", "quantization"],
        "LoRA on a 4-bit NF4 base model: fine-tune 70B models on one 80 GB GPU.",
        [
            (120, "assess", "Would let us fine-tune 70B without a multi-node job", {}),
            (
                30,
                "trial",
                "Quality within 0.5 points of LoRA on 13B",
                {"review": 1, "evidence_links": ["https://arxiv.org/abs/2305.14314"]},
            ),
        ],
        ("bob", "Compare NF4 QLoRA vs LoRA on the 70B eval suite", 10, 5),
    ),
    (
        "Speculative decoding",
        "Inference & serving",
        "adjacency",
        ["latency", "decoding"],
        "A small draft model proposes tokens the large model verifies in one pass "
        "([Leviathan et al.](https://arxiv.org/abs/2211.17192)).",
        [
            (150, "assess", "2-3x decode speed-ups reported with no quality change", {}),
            (60, "trial", "Offline replay: 2.1x tokens/s on chat traffic", {"review": 0}),
        ],
        ("alice", "Validation on production traffic replay", -5, 35),
    ),
    (
        "PagedAttention",
        "Inference & serving",
        "core",
        ["memory", "serving"],
        "KV cache in fixed-size pages, as in vLLM: near-zero fragmentation, higher batch sizes.",
        [
            (330, "trial", "vLLM pilot doubled batch size at the same memory", {}),
            (240, "adopt", "All chat endpoints on vLLM", {}),
        ],
        (None, "", None, 50),
    ),
    (
        "Continuous batching",
        "Inference & serving",
        "core",
        ["serving"],
        "Schedule at the iteration level so finished sequences leave and new ones join.",
        [(360, "adopt", "Comes with vLLM and TGI; 4x throughput on bursty traffic", {})],
        (None, "", None, 60),
    ),
    (
        "KV-cache quantization",
        "Inference & serving",
        "core",
        ["memory", "quantization"],
        "Store keys and values in FP8/INT4 to fit longer contexts and bigger batches.",
        [(25, "assess", "Long-context customers hit KV memory limits", {})],
        ("dana", "Measure quality on the long-context eval at FP8 and INT4", 25, 25),
    ),
    (
        "MoE routing",
        "Architectures",
        "exploratory",
        ["moe"],
        "Sparse mixture-of-experts: top-k token routing vs expert-choice routing.",
        [(70, "assess", "Mixtral-class models are what customers ask for", {})],
        ("bob", "Paper review: expert-choice vs top-k routing", 12, 20),
    ),
    (
        "RoPE scaling (YaRN)",
        "Architectures",
        "adjacency",
        ["long-context"],
        "Extend rotary position embeddings beyond the training length with little fine-tuning.",
        [
            (90, "assess", "Cheapest route to 32k context on our base model", {}),
            (20, "trial", "16k extension kept perplexity within 2%", {}),
        ],
        ("dana", "Extend to 32k and run needle-in-a-haystack", 18, 20),
    ),
    (
        "Grouped-query attention",
        "Architectures",
        "core",
        ["memory"],
        "Share key/value heads across query heads: most of MQA's memory saving, MHA's quality.",
        [(280, "adopt", "Every model we serve uses it; 8x smaller KV cache", {})],
        (None, "", None, 30),
    ),
    (
        "Mamba and state-space models",
        "Architectures",
        "exploratory",
        ["long-context", "ssm"],
        "Selective state-space layers with linear-time sequence mixing.",
        [
            (180, "assess", "Linear-time inference could cut long-context cost", {}),
            (
                60,
                "hold",
                "Our prototypes showed no quality or speed gain at our sequence lengths",
                {"review": 0, "failed_constraint": "No gain at our ≤8k-token workloads"},
            ),
        ],
        (None, "", None, 60),
    ),
    (
        "Direct preference optimization",
        "Training",
        "adjacency",
        ["alignment"],
        "Preference tuning without a reward model or RL loop "
        "([Rafailov et al.](https://arxiv.org/abs/2305.18290)).",
        [
            (140, "assess", "Simpler than our PPO pipeline", {}),
            (60, "trial", "Matched PPO win rate on the helpfulness set", {"review": 0}),
        ],
        ("alice", "A/B test the DPO model on 5% of traffic", 7, 8),
    ),
    (
        "RLHF with PPO",
        "Training",
        "core",
        ["alignment"],
        "Reward model plus PPO fine-tuning.",
        [
            (500, "adopt", "Our alignment pipeline since launch", {}),
            (
                30,
                "hold",
                "DPO matches it at a fraction of the compute and operational cost",
                {"review": 1, "superseded_by": "Direct preference optimization"},
            ),
        ],
        (None, "", None, 29),
    ),
    (
        "FP8 training",
        "Training",
        "core",
        ["h100", "quantization"],
        "Train in FP8 with per-tensor scaling (Transformer Engine).",
        [(130, "assess", "H100s make FP8 matmuls 2x faster than BF16", {})],
        ("bob", "Convergence test on the 7B recipe", 40, 130),
    ),
    (
        "Ring attention",
        "Architectures",
        "exploratory",
        ["long-context"],
        "Blockwise attention across devices in a ring for million-token contexts.",
        [(125, "assess", "Only known path to 1M-token context", {})],
        ("dana", "Read the follow-up papers on striped attention", 30, 125),
    ),
    (
        "Knowledge distillation",
        "Training",
        "core",
        ["compression"],
        "Train a small student on a large teacher's outputs.",
        [
            (450, "adopt", "Our 1B on-device models are distilled from the 13B", {}),
            (12, "trial", "The distilled 1B regressed on multilingual tickets; re-validating", {}),
        ],
        ("dana", "Re-run distillation with multilingual teacher data", 16, 12),
    ),
    (
        "Beam search for chat",
        "Inference & serving",
        "core",
        ["decoding"],
        "Keep the k most likely sequences while decoding.",
        [
            (300, "assess", "Might improve answer quality", {}),
            (
                200,
                "skip",
                "A/B test: no preference gain over sampling, 4x decode cost",
                {"failed_constraint": "p95 latency budget of 2 s per answer"},
            ),
        ],
        (None, "", None, 200),
    ),
    (
        "LLM-as-a-judge evaluation",
        "Data & evaluation",
        "adjacency",
        ["evaluation"],
        "Grade model answers with a strong model against a rubric, checked against humans.",
        [
            (100, "assess", "Human eval is our bottleneck", {}),
            (45, "trial", "0.81 agreement with human raters on 500 answers", {}),
        ],
        ("bob", "Calibrate the judge on the new safety rubric", 14, 15),
    ),
    (
        "MinHash deduplication",
        "Data & evaluation",
        "core",
        ["data"],
        "Near-duplicate removal over the pre-training corpus.",
        [(380, "adopt", "Cut training tokens 12% with no loss in quality", {})],
        (None, "", None, 45),
    ),
    (
        "Benchmark contamination checks",
        "Data & evaluation",
        "core",
        ["evaluation", "data"],
        "n-gram overlap between eval sets and training data before any reported number.",
        [(15, "assess", "A customer asked how we know our evals are clean", {})],
        ("alice", "Run 13-gram overlap on the four public benchmarks", 21, 15),
    ),
]

NOMINATIONS = [
    (
        "Multi-token prediction",
        "Architectures",
        "bob",
        "Predicting several tokens per step improved code models and enables self-speculation.",
        ["https://arxiv.org/abs/2404.19737"],
        8,
    ),
    (
        "Prefix caching",
        "Inference & serving",
        "dana",
        "Our system prompts are 2k tokens; caching their KV would cut time-to-first-token.",
        [],
        3,
    ),
]


def _ago(days):
    return timezone.now() - datetime.timedelta(days=days)


def load(users, stdout=None):
    """Create this app's demo rows. `users` maps demo usernames to User objects."""
    lead = users["alice"]
    today = timezone.localdate()
    quadrants = {
        name: Quadrant.objects.create(name=name, order=order)
        for order, name in enumerate(QUADRANTS)
    }
    reviews = [
        Review.objects.create(
            held_on=today - datetime.timedelta(days=days),
            notes=notes,
            created_by=lead,
        )
        for days, notes in [
            (60, "Deep dive: speculative decoding replay results (alice)."),
            (30, "Deep dive: FA3 training runs (alice); QLoRA on 13B (bob)."),
        ]
    ]
    for review in reviews:
        review.attendees.set([users["alice"], users["bob"], users["dana"]])

    techniques = {}
    for name, quadrant, bucket, tags, description, history, final in TECHNIQUES:
        technique = Technique(
            name=name,
            quadrant=quadrants[quadrant],
            description=description,
            portfolio_bucket=bucket,
            created_at=_ago(history[0][0]),
        )
        for days, ring, reason, extra in history:
            extra = dict(extra)
            if "review" in extra:
                extra["review"] = reviews[extra["review"]]
            if "superseded_by" in extra:
                extra["superseded_by"] = techniques[extra["superseded_by"]]
            # Earlier stages needed an owner and a next action too; the final ones come below.
            if ring in OWNED_RINGS and technique.owner is None:
                extra["owner"] = lead
            if ring == Ring.TRIAL and not technique.next_action:
                extra["next_action"] = "Validate on our workload"
                extra["next_action_due"] = today - datetime.timedelta(days=days - 30)
            technique.move_to(ring, by=lead, reason=reason, at=_ago(days), **extra)
        owner, next_action, due_in, touched = final
        technique.owner = users[owner] if owner else None
        technique.next_action = next_action
        technique.next_action_due = today + datetime.timedelta(days=due_in) if next_action else None
        technique.save()
        technique.tags.set(Tag.objects.get_or_create(name=tag)[0] for tag in tags)
        # The demo's history is in the past, so is the last time anyone touched it.
        Technique.objects.filter(pk=technique.pk).update(updated_at=_ago(touched))
        techniques[name] = technique

    for name, quadrant, username, reason, links, days in NOMINATIONS:
        Nomination.objects.create(
            name=name,
            quadrant=quadrants[quadrant],
            proposed_by=users[username],
            reason=reason,
            links=links,
            proposed_at=_ago(days),
        )
    declined = Nomination.objects.create(
        name="Mixture-of-depths",
        quadrant=quadrants["Architectures"],
        proposed_by=users["dana"],
        reason="Skip computation for easy tokens.",
        proposed_at=_ago(40),
    )
    declined.decline(
        by=lead,
        reason="Only shown at small scale; revisit if a 7B+ result appears.",
        review=reviews[1],
    )
    if stdout:
        stale = Technique.objects.stale().count()
        stdout.write(
            f"Radar: {len(techniques)} techniques in {len(quadrants)} quadrants, "
            f"{len(reviews)} past reviews, {len(NOMINATIONS)} pending nominations, "
            f"{stale} stale."
        )
