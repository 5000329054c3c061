"""Decision memos: the three write-ups of a gate decision the seed asks for ("Framing for
Different Audiences"), written from the decision's snapshot alone.

A memo reads nothing but the GateDecision row (its fields and its `snapshot`), so it reads the
same next year as on the day: a criterion superseded or a run added later changes nothing.
`snapshot_context(experiment)` is what `Experiment.evidence_snapshot` stores for the memos
besides the criteria and statistics: who and what the experiment is, its cost-benefit, runs.
"""

import math

from django.template.loader import render_to_string

MEMO_KINDS = {
    "executive": "Executive summary",
    "product": "Product memo",
    "engineering": "Engineering detail",
}

# The radar assessment a decision amounts to, by (stage, decision), and what we recommend.
ASSESSMENTS = {
    ("discovery", "yes"): ("TRIAL", "invest in a Validation stage on our own workload"),
    ("validation", "yes"): ("TRIAL", "build it for production (Integration stage)"),
    ("integration", "yes"): ("ADOPT", "keep it in production and adopt it as standard practice"),
    ("discovery", "no"): ("SKIP", "stop here and record what we learned"),
    ("validation", "no"): ("SKIP", "stop here and record what we learned"),
    ("integration", "no"): ("HOLD", "roll it back and record what we learned"),
}
NEXT_STAGE_LABEL = {"discovery": "Validation", "validation": "Integration"}


def snapshot_context(experiment, *, runs):
    """What the memos need from the experiment at decision time, JSON-safe; `runs` are those
    the gate counts (Experiment.counted_runs)."""
    return {
        "key": experiment.key,
        "title": experiment.title,
        "technique": experiment.technique.name,
        "hypothesis": experiment.hypothesis,
        "owner": experiment.owner.get_username() if experiment.owner else "",
        "cost_benefit": {
            "engineer_weeks": float(experiment.engineer_weeks),
            "engineer_week_cost": float(experiment.engineer_week_cost),
            "compute_cost": float(experiment.compute_cost),
            "total_cost": float(experiment.total_cost),
            "expected_benefit_per_month": float(experiment.expected_benefit_per_month),
            "payback_months": _float_or_none(experiment.payback_months),
            "roi_12_months": _float_or_none(experiment.roi_12_months),
        },
        "runs": [
            {
                "name": run.name,
                "stage": run.stage,
                "variant": run.variant,
                "seed": run.seed,
                "status": run.status,
                "summary": run.summary,
            }
            for run in runs
        ],
    }


def memos(decision):
    """{kind: Markdown} for the three memos of one gate decision (kinds in MEMO_KINDS)."""
    context = _context(decision)
    return {
        kind: render_to_string(f"experiments/memos/{kind}.md", context).strip() + "\n"
        for kind in MEMO_KINDS
    }


def memo_document(decision):
    """The three memos as one Markdown document, for the download."""
    written = memos(decision)
    heading = (
        f"# {decision.experiment.key}: {decision.get_stage_display()} gate, round {decision.round}"
    )
    parts = [heading]
    for kind, title in MEMO_KINDS.items():
        parts.append(f"## {title}\n\n{_demote(written[kind])}")
    return "\n\n".join(parts).rstrip() + "\n"


def _demote(markdown):
    # Each memo has its own headings; inside the document they sit under the memo's heading.
    return "\n".join(
        "##" + line if line.startswith("#") else line for line in markdown.splitlines()
    )


def _context(decision):
    snapshot = decision.snapshot or {}
    about = snapshot.get("context") or {}
    criteria = snapshot.get("criteria", [])
    success = [c for c in criteria if c.get("kind") == "success"]
    kills = [c for c in criteria if c.get("kind") == "kill"]
    override = snapshot.get("override") or None
    if decision.decision == "not_yet":
        assessment = "NOT YET"
        recommendation = (
            f"continue the {decision.get_stage_display()} stage until: {decision.conditions}"
        )
    else:
        assessment, recommendation = ASSESSMENTS[(decision.stage, decision.decision)]
    return {
        "decision": decision,
        "snapshot": snapshot,
        "about": about,
        "recorded": bool(about),
        "technique": about.get("technique") or decision.experiment.technique.name,
        "cost": about.get("cost_benefit") or {},
        "runs": about.get("runs", []),
        "runs_left_out": (snapshot.get("runs") or {}).get("left_out", []),
        "criteria": criteria,
        "success_met": [c for c in success if c.get("result") == "holds"],
        "success_unmet": [c for c in success if c.get("result") != "holds"],
        "kills_tripped": [c for c in kills if c.get("result") == "holds"],
        "statistics": snapshot.get("statistics", []),
        "flags": snapshot.get("flags", []),
        "override": override,
        "assessment": assessment,
        "recommendation": recommendation,
        "next_stage": NEXT_STAGE_LABEL.get(decision.stage, ""),
        "benefit": _benefit(success, about, snapshot.get("statistics", [])),
        "key_risk": _key_risk(criteria, snapshot.get("flags", []), override),
        "risks": _risks(criteria, snapshot.get("flags", []), override),
    }


def _benefit(success, about, statistics):
    """The seed's "X% improvement in metric Y": the measured changes against the baseline,
    the success criteria met, and the expected value per month."""
    changes = [
        f"{c['relative_difference']:+.1f}% {c['metric']} ({c['variant']} against the baseline)"
        for c in statistics
        if isinstance(c.get("relative_difference"), float)
    ]
    met = [
        f"{c['statement']} (observed {_number(c.get('observed'))})"
        for c in success
        if c.get("result") == "holds"
    ]
    per_month = (about.get("cost_benefit") or {}).get("expected_benefit_per_month")
    parts = []
    if changes:
        parts.append(", ".join(changes))
    if met:
        parts.append("criteria met: " + "; ".join(met))
    if per_month:
        parts.append(f"an expected {per_month:,.0f} per month")
    if not met:
        # Alone it must still read as a benefit: "The expected benefit is unproven: ...".
        parts.append(
            "no success criterion was met" if parts else "unproven: no success criterion was met"
        )
    return "; ".join(parts)


def _risks(criteria, flags, override):
    """Open risks at decision time, most serious first."""
    risks = []
    if override:
        risks += [
            f"Decided against the evidence: {blocker}" for blocker in override.get("blockers", [])
        ]
    for criterion in criteria:
        result, kind = criterion.get("result"), criterion.get("kind")
        if kind == "kill" and result == "holds":
            severity = "hard" if criterion.get("severity") == "hard" else "soft"
            risks.append(
                f"{severity.capitalize()} kill criterion tripped: {criterion['statement']}"
            )
    risks += flags
    for criterion in criteria:
        result, kind = criterion.get("result"), criterion.get("kind")
        if kind == "success" and result == "does_not_hold":
            risks.append(f"Success criterion not met: {criterion['statement']}")
        elif result in ("pending", "insufficient"):
            detail = f" ({criterion['detail']})" if criterion.get("detail") else ""
            risks.append(f"No conclusive evidence yet for: {criterion['statement']}{detail}")
    # A risk named twice (a tripped kill is also a flag) is listed once.
    return list(dict.fromkeys(risks))


def _key_risk(criteria, flags, override):
    risks = _risks(criteria, flags, override)
    if risks:
        return risks[0]
    return "that the result does not carry over beyond the workload and runs it was measured on"


def _number(value):
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return f"{value:.4g}"


def _float_or_none(value):
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
