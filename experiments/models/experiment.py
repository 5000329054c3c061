from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.urls import reverse
from django.utils import timezone

from radar.models import PortfolioBucket

from .. import memos, stats
from ..enums import (
    CLOSED_STATUSES,
    GATE_QUESTIONS,
    NEXT_STAGE,
    WON_STATUSES,
    AttentionKind,
    CriterionKind,
    Decision,
    Result,
    RunStatus,
    Stage,
    Status,
)
from .criteria import BASELINE_VARIANT, Criterion, evaluate_criteria
from .evidence import RunCarryOver, json_safe
from .gates import GateDecision, RadarMoveProposal
from .postmortem import PostMortem
from .timeboxes import StageTimebox

# The cost-benefit figures: changing one needs a reason, kept old -> new in the history.
RECORDED_COST_FIELDS = (
    "engineer_weeks",
    "engineer_week_cost",
    "compute_cost",
    "expected_benefit_per_month",
)
RECORDED_FIELDS = ("hypothesis", *RECORDED_COST_FIELDS)


class ExperimentQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=Status.ACTIVE)

    def visible(self):
        """Everything but archived experiments: what lists show."""
        return self.exclude(status=Status.ARCHIVED)

    def with_record(self):
        """Experiments with a run, a gate decision or history: archived, never deleted."""
        return self.filter(
            models.Q(runs__isnull=False)
            | models.Q(gate_decisions__isnull=False)
            | models.Q(events__isnull=False)
        ).distinct()

    def flagged(self):
        return self.filter(flagged_since__isnull=False)

    def flagged_by(self, moment):
        """Experiments flagged at or before `moment` and still flagged."""
        return self.filter(flagged_since__lte=moment)

    def passed_gate(self, stage):
        """Experiments whose `stage` gate was answered YES."""
        return self.filter(gate_decisions__stage=stage, gate_decisions__decision="yes")

    def in_stage(self, stage):
        return self.filter(stage=stage)

    def with_status(self, status):
        return self.filter(status=status)

    def timebox_ending_between(self, start, end):
        """Active experiments whose current stage's deadline falls in [start, end]."""
        return self.active().filter(
            timeboxes__stage=models.F("stage"),
            timeboxes__deadline__gte=start,
            timeboxes__deadline__lte=end,
        )

    def create_recorded(self, *, by, starts_on=None, deadline=None, **fields):
        """Create an experiment, owned by `by` unless `owner` is given, with its stage's
        time-box (the typical length by default), and record who created it."""
        with transaction.atomic():
            experiment = self.create(**{"owner": by, **fields})
            if starts_on is None:
                starts_on, deadline = StageTimebox.typical(experiment.stage)
            experiment.set_timebox(experiment.stage, starts_on=starts_on, deadline=deadline)
            experiment.record("created", f"Created by {by}", by=by)
        return experiment

    def next_key(self):
        """The next free key, EXP-<highest number + 1>."""
        keys = self.filter(key__startswith="EXP-").values_list("key", flat=True)
        numbers = [int(key[4:]) for key in keys if key[4:].isdigit()]
        return f"EXP-{max(numbers, default=0) + 1}"

    def search(self, text):
        return self.filter(
            models.Q(key__icontains=text)
            | models.Q(title__icontains=text)
            | models.Q(hypothesis__icontains=text)
        )


class Experiment(models.Model):
    """A research bet on a radar technique, run in three gated stages against criteria."""

    key = models.CharField(max_length=20, unique=True, help_text="Short id such as EXP-12")
    title = models.CharField(max_length=200)
    technique = models.ForeignKey(
        "radar.Technique", on_delete=models.PROTECT, related_name="experiments"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_experiments",
    )
    hypothesis = models.TextField(
        blank=True,
        help_text="What, by how much, on which workload, without degrading what.",
    )
    stage = models.CharField(max_length=20, choices=Stage, default=Stage.DISCOVERY)
    status = models.CharField(max_length=20, choices=Status, default=Status.ACTIVE)
    portfolio_bucket = models.CharField(
        max_length=20, choices=PortfolioBucket, default=PortfolioBucket.CORE
    )
    engineer_weeks = models.DecimalField(
        max_digits=7, decimal_places=1, default=Decimal("0"), help_text="Planned effort."
    )
    engineer_week_cost = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        default=Decimal("4000"),
        help_text="Loaded cost of one engineer-week, in the same currency as the others.",
    )
    compute_cost = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    expected_benefit_per_month = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0")
    )
    learnings = models.TextField(blank=True)
    # Reasons the experiment needs attention, written by evaluate(); flagged_since is set
    # while the list is non-empty so that "flagged" is a plain indexed filter.
    flags = models.JSONField(default=list, blank=True)
    flagged_since = models.DateTimeField(null=True, blank=True, db_index=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ExperimentQuerySet.as_manager()

    class Meta:
        ordering = ["key"]
        permissions = [("sign_gate", "Can decide a stage gate")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stage__in=Stage.values), name="experiment_stage_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=Status.values), name="experiment_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(engineer_weeks__gte=0)
                & models.Q(engineer_week_cost__gte=0)
                & models.Q(compute_cost__gte=0)
                & models.Q(expected_benefit_per_month__gte=0),
                name="experiment_costs_not_negative",
            ),
        ]

    def __str__(self):
        return f"{self.key} {self.title}"

    def get_absolute_url(self):
        return reverse("experiments:experiment_detail", args=[self.pk])

    # --- state ---

    @property
    def is_active(self):
        return self.status == Status.ACTIVE

    def closed_message(self):
        """Why a closed experiment takes no more reports (the API's 409)."""
        return (
            f"{self.key} is {self.get_status_display().lower()}: it takes no more reports "
            "(read-only requests still work, and a running run may still record how it ended)."
        )

    @property
    def is_closed(self):
        return self.status in CLOSED_STATUSES

    @property
    def gate_question(self):
        return GATE_QUESTIONS[Stage(self.stage)]

    def carry_runs_over(self, runs, *, by, reason):
        """Count runs of earlier stages towards the current stage's gate too, recorded.

        Only a Lead may: it changes what the gate is decided on.
        """
        if not by.has_perm("experiments.sign_gate"):
            raise PermissionDenied("Only a Lead can carry runs over to another stage.")
        reason = (reason or "").strip()
        if not reason:
            raise ValidationError({"reason": "Say why these runs count for this gate too."})
        runs = list(runs)
        if not runs:
            raise ValidationError({"runs": "Choose the runs to carry over."})
        for run in runs:
            if run.experiment_id != self.pk or run.stage == self.stage:
                raise ValidationError(
                    {"runs": f"“{run.name}” is not an earlier stage's run of {self.key}."}
                )
        with transaction.atomic():
            carried = []
            for run in runs:
                _, created = RunCarryOver.objects.get_or_create(
                    run=run, stage=self.stage, defaults={"carried_by": by, "reason": reason}
                )
                if created:
                    carried.append(run)
            if carried:
                names = ", ".join(f"“{run.name}” ({run.get_stage_display()})" for run in carried)
                self.record(
                    "stage",
                    f"Runs carried over to the {self.get_stage_display()} gate: {names}: {reason}",
                    by=by,
                    runs=[run.pk for run in carried],
                    stage=self.stage,
                )
            self.evaluate()
        return carried

    def has_record(self):
        return Experiment.objects.with_record().filter(pk=self.pk).exists()

    def archive(self, *, by, reason="Deleted in the admin"):
        """Hide the experiment from lists, keeping its runs, decisions and history."""
        self.set_status(Status.ARCHIVED, by=by, reason=reason)
        self._store_flags([], now=timezone.now())

    def editable_by(self, user):
        return user.has_perm("experiments.change_experiment") and (
            self.owner_id == user.pk or user.has_perm("experiments.sign_gate")
        )

    def record(self, kind, message, *, by=None, **data):
        """Add an entry to the experiment's history."""
        return self.events.create(kind=kind, message=message, actor=by, data=data)

    def set_status(self, status, *, by, reason=""):
        """Change the status and record it in the history."""
        if status == self.status:
            return
        old = self.get_status_display()
        self.status = status
        self.save(update_fields=["status", "updated_at"])
        message = f"Status {old} → {self.get_status_display()}"
        self.record("status", f"{message}: {reason}" if reason else message, by=by, status=status)

    # --- time-boxes ---

    def timebox(self, stage=None):
        stage = stage or self.stage
        for timebox in self.timeboxes.all():
            if timebox.stage == stage:
                return timebox
        return None

    def set_timebox(self, stage, *, starts_on, deadline, by=None, reason=""):
        """Set a stage's time-box; changing an existing one needs a reason, kept old -> new.

        Extending a time-box that has already run out needs a Lead, and the history keeps
        that it had expired (the flag it raised stays in the history too).
        """
        existing = self.timeboxes.filter(stage=stage).first()
        timebox = existing or StageTimebox(experiment=self, stage=stage)
        old = (timebox.starts_on, timebox.deadline) if existing else None
        timebox.starts_on = starts_on
        timebox.deadline = deadline
        timebox.full_clean()
        if old is None or old == (starts_on, deadline):
            timebox.save()
            return timebox
        reason = (reason or "").strip()
        if not reason:
            raise ValidationError({"change_reason": "Say why the time-box changes."})
        expired = old[1] < timezone.localdate()
        if expired and deadline > old[1]:
            if by is None or not by.has_perm("experiments.sign_gate"):
                raise PermissionDenied("Only a Lead can extend a time-box that has run out.")
            self.evaluate()  # the expiry is in the history before the extension hides it
        with transaction.atomic():
            timebox.save()
            label = Stage(stage).label
            note = f" (it had expired on {old[1]:%Y-%m-%d})" if expired else ""
            self.record(
                "edited",
                f"{label} time-box {old[0]:%Y-%m-%d} – {old[1]:%Y-%m-%d} → "
                f"{starts_on:%Y-%m-%d} – {deadline:%Y-%m-%d}{note}: {reason}",
                by=by,
                field="timebox",
                stage=stage,
                old=[old[0].isoformat(), old[1].isoformat()],
                new=[starts_on.isoformat(), deadline.isoformat()],
                expired=expired,
            )
        return timebox

    def revise(self, *, by, reason, **changes):
        """Change the hypothesis or cost-benefit figures, with a reason kept old -> new.

        Other fields in `changes` are saved as they are, their names kept in the history.
        Returns the recorded fields.
        """
        recorded = {
            name: (getattr(self, name), value)
            for name, value in changes.items()
            if name in RECORDED_FIELDS and getattr(self, name) != value
        }
        plain = [
            name
            for name, value in changes.items()
            if name not in RECORDED_FIELDS and getattr(self, name) != value
        ]
        reason = (reason or "").strip()
        if recorded and not reason:
            raise ValidationError(
                {"change_reason": "Say why the hypothesis or the cost-benefit figures change."}
            )
        for name, value in changes.items():
            setattr(self, name, value)
        with transaction.atomic():
            self.save()
            for name, (old, new) in recorded.items():
                label = self._meta.get_field(name).verbose_name.capitalize()
                self.record(
                    "edited",
                    f"{label}: “{old}” → “{new}”: {reason}",
                    by=by,
                    field=name,
                    old=str(old),
                    new=str(new),
                )
            if plain:
                self.record("edited", f"Edited: {', '.join(plain)}", by=by)
        return list(recorded)

    def add_criterion(self, *, by, **fields):
        """Add a success or kill criterion, refused once its stage is frozen, and record it."""
        criterion = Criterion(experiment=self, created_by=by, **fields)
        criterion.full_clean()
        with transaction.atomic():
            criterion.save()
            self.record("criterion", f"Criterion added: “{criterion}”", by=by)
        return criterion

    def write_postmortem(self, *, by, **fields):
        """Write or rewrite the post-mortem of a killed or rolled-back experiment.

        Its first writer is its author; the first writing goes into the history.
        """
        postmortem = PostMortem.objects.filter(experiment=self).first()
        created = postmortem is None
        if created:
            postmortem = PostMortem(experiment=self)
        if postmortem.author_id is None:
            postmortem.author = by
        for name, value in fields.items():
            setattr(postmortem, name, value)
        with transaction.atomic():
            postmortem.save()
            if created:
                self.record("postmortem", "Post-mortem written", by=by)
        return postmortem

    # --- cost-benefit ---

    @property
    def total_cost(self):
        return self.engineer_weeks * self.engineer_week_cost + self.compute_cost

    @property
    def payback_months(self):
        """Months of expected benefit needed to repay the cost; None without a benefit."""
        if not self.expected_benefit_per_month:
            return None
        return self.total_cost / self.expected_benefit_per_month

    @property
    def roi_12_months(self):
        """Return on investment after a year, as a fraction of the cost; None without a cost."""
        if not self.total_cost:
            return None
        return (12 * self.expected_benefit_per_month - self.total_cost) / self.total_cost

    # --- evaluation (criteria on the evidence) ---

    def evaluate(self):
        """Re-evaluate every current criterion on the evidence and refresh the flags.

        The flags are the attention reasons, and NaN/Inf values in the metrics the current
        stage's criteria watch. Idempotent: running it twice on the same evidence stores the
        same results. Returns the list of flags.
        """
        now = timezone.now()
        criteria = list(self.criteria.current())
        evaluate_criteria(self, criteria, now=now)
        # A closed or passed experiment needs no attention: its criteria still get results.
        flags = []
        if self.is_active:
            flags = [str(reason) for reason in self.attention_reasons(now, criteria=criteria)]
            watched = {c.metric for c in criteria if c.metric and c.stage == self.stage}
            flags += [
                f"NaN/Inf values in watched metric {name}"
                for name in sorted(self.runs.non_finite_metrics() & watched)
            ]
        self._store_flags(flags, now=now)
        return flags

    def attention_reasons(self, now=None, *, criteria=None):
        """Why the experiment needs attention at `now` (default: now), each an AttentionReason.

        A hard kill criterion of the current stage tripped (each stage's criteria are judged on
        its own runs; only the current stage's stop work), the current stage's time-box over
        while active, or the experiment not active. A passed or shipped experiment has none:
        the bet won. Reads the stored criteria results (evaluate() refreshes them); `criteria`,
        the current criteria already fetched (prefetched or just evaluated), saves the query.
        """
        if self.status in WON_STATUSES:
            return []
        if criteria is None:
            criteria = self.criteria.current().of_stage(self.stage).hard_kills().tripped()
        reasons = [
            AttentionReason(
                AttentionKind.HARD_KILL,
                f"Hard kill criterion tripped: {criterion.statement}",
                criterion=criterion,
            )
            for criterion in criteria
            if criterion.trips_hard_kill and criterion.stage == self.stage
        ]
        timebox = self.timebox()
        if self.is_active and timebox and timebox.is_over(timezone.localdate(now)):
            reasons.append(
                AttentionReason(
                    AttentionKind.TIMEBOX_OVER,
                    f"{self.get_stage_display()} time-box ended on {timebox.deadline:%Y-%m-%d}",
                )
            )
        if not self.is_active:
            reasons.append(
                AttentionReason(
                    AttentionKind.NOT_ACTIVE, f"Experiment is {self.get_status_display().lower()}"
                )
            )
        return reasons

    def _store_flags(self, flags, *, now):
        was_flagged = bool(self.flags)
        added = [flag for flag in flags if flag not in self.flags]
        self.flags = flags
        self.evaluated_at = now
        if flags and not was_flagged:
            self.flagged_since = now
        elif not flags:
            self.flagged_since = None
        self.save(update_fields=["flags", "flagged_since", "evaluated_at", "updated_at"])
        for flag in added:
            self.record("flag", f"Flagged: {flag}")
        if was_flagged and not flags:
            self.record("flag", "No longer flagged")

    # --- evidence summaries ---

    def counted_runs(self):
        """(counted, left_out) for the current stage's gate.

        Finished runs of the stage (and those carried over), one per variant and seed.
        """
        return self.runs.counting_for(self.stage).counted(finished_only=True)

    def run_values_by_metric(self, runs=None):
        """{metric: [(run, value)]} over `runs` (default: those counted for the current gate),
        in a fixed number of queries however many metrics there are."""
        if runs is None:
            runs, _ = self.counted_runs()
        return self.runs.values_by_metric(among=runs)

    def comparisons(self, values_by_metric=None, *, by_platform=False):
        """Baseline against each other variant, per metric, across seeds (stats.compare).

        With `by_platform`, within each platform (Run.platform) apart: a gap between variants
        on one accelerator is then not mixed with the drift between accelerators. Each
        comparison's `platform` says which ("" when not split).
        """
        if values_by_metric is None:
            values_by_metric = self.run_values_by_metric()
        criteria = [c for c in self.criteria.current().of_stage(self.stage) if c.is_machine_checked]
        results = []
        for metric, all_values in values_by_metric.items():
            groups = {}
            for run, value in all_values:
                groups.setdefault(run.platform if by_platform else "", []).append((run, value))
            for platform, run_values in groups.items():
                results += self._compare_variants(metric, run_values, criteria, platform)
        return results

    def _compare_variants(self, metric, run_values, criteria, platform):
        results = []
        by_variant = {}
        for run, value in run_values:
            by_variant.setdefault(run.variant, []).append((run.seed, value))
        baseline = by_variant.pop(BASELINE_VARIANT, [])
        for variant, rows in sorted(by_variant.items()):
            comparison = stats.compare(
                metric,
                [value for _, value in baseline],
                [value for _, value in rows],
                baseline_seeds=[seed for seed, _ in baseline],
                candidate_seeds=[seed for seed, _ in rows],
                variant=variant,
            )
            comparison.criteria = [
                (c.statement, c.result_label, c.result_badge)
                for c in criteria
                if c.metric == metric and c.variant == variant
            ]
            comparison.platform = platform
            results.append(comparison)
        return results

    def evidence_snapshot(self):
        """Criteria results, statistics and flags as they stand: stored with gate decisions."""
        counted, left_out = self.counted_runs()
        return {
            "taken_at": timezone.now().isoformat(),
            "stage": self.stage,
            "flags": list(self.flags),
            "runs": {
                "counted": [run.name for run in counted],
                "left_out": [f"{run.name}: {reason}" for run, reason in left_out],
            },
            "criteria": [
                criterion.snapshot() for criterion in self.criteria.current().of_stage(self.stage)
            ],
            "statistics": [
                json_safe(c.as_dict())
                for c in self.comparisons(self.run_values_by_metric(runs=counted))
            ],
            # Who, what, cost-benefit and the runs counted, for the decision memos
            # (experiments/memos.py).
            "context": json_safe(memos.snapshot_context(self, runs=counted)),
        }

    def gate_blockers(self):
        """Why the evidence does not support YES at the current gate, one sentence each.

        Reads the stored results: decide_gate re-evaluates first.
        """
        stage = Stage(self.stage)
        criteria = list(self.criteria.current().of_stage(stage))
        blockers = []
        if not criteria:
            blockers.append(
                f"The {stage.label} stage has no criteria: nothing says what passing is."
            )
        for criterion in criteria:
            detail = f" ({criterion.result_detail})" if criterion.result_detail else ""
            if criterion.kind == CriterionKind.SUCCESS and criterion.result == Result.DOES_NOT_HOLD:
                blockers.append(f"Success criterion not met: {criterion.statement}{detail}")
            elif criterion.kind == CriterionKind.SUCCESS and criterion.result != Result.HOLDS:
                blockers.append(f"Success criterion lacks evidence: {criterion.statement}{detail}")
            elif criterion.trips_hard_kill:
                blockers.append(f"Hard kill criterion tripped: {criterion.statement}{detail}")
        running = list(
            self.runs.counting_for(stage)
            .filter(status=RunStatus.RUNNING)
            .values_list("name", flat=True)
        )
        if running:
            blockers.append(
                f"{len(running)} {stage.label} run{'s' if len(running) > 1 else ''} still "
                f"running: {', '.join(sorted(running))}"
            )
        return blockers

    # --- gates ---

    def decide_gate(
        self,
        decision,
        *,
        by,
        stage=None,
        round=None,
        conditions="",
        notes="",
        learnings="",
        override_reason="",
    ):
        """Answer the current stage's gate question YES, NO or NOT YET.

        `stage` and `round` are the gate the decider was looking at: when someone else
        decided it meanwhile, this one is refused rather than recorded on stale evidence.
        The criteria are re-evaluated inside the decision's transaction and that fresh
        result is snapshotted. YES is refused while gate_blockers() lists anything, unless
        an `override_reason` is given: the decision is then recorded as against the evidence.
        YES advances the stage (after Integration: passed, and a radar move to ADOPT is
        proposed); NO closes the experiment, keeps the learnings and proposes SKIP (HOLD after
        Integration); NOT YET needs conditions.
        """
        if not by.has_perm("experiments.sign_gate"):
            raise PermissionDenied("Only a Lead can decide a gate.")
        conditions, notes, learnings = conditions.strip(), notes.strip(), learnings.strip()
        override_reason = override_reason.strip()
        if decision not in Decision.values:
            raise ValidationError({"decision": "Answer YES, NO or NOT YET."})
        if decision == Decision.NOT_YET and not conditions:
            raise ValidationError({"conditions": "NOT YET needs the conditions to meet first."})
        if decision == Decision.NO and not learnings:
            raise ValidationError(
                {"learnings": "A NO closes the experiment: write what we learned."}
            )
        fresh = Experiment.objects.get(pk=self.pk)
        gate_open = (
            fresh.is_active
            and stage in (None, fresh.stage)
            and round in (None, fresh.open_gate_round())
        )
        if decision == Decision.YES and not override_reason and gate_open:
            # Refused on the fresh evaluation, which stays stored so that the page shows it.
            fresh.evaluate()
            self._refuse_yes_if_blocked(fresh.gate_blockers())
        with transaction.atomic():
            locked = Experiment.objects.select_for_update().get(pk=self.pk)
            current_round = locked.open_gate_round()
            if (stage and stage != locked.stage) or (round and round != current_round):
                raise ValidationError(
                    "Someone decided this gate while you were looking at it; "
                    "see their decision below and decide again if needed."
                )
            if not locked.is_active:
                raise ValidationError(
                    f"This experiment is {locked.get_status_display().lower()}: no gate is open."
                )
            locked_stage = Stage(locked.stage)
            # The decision is made on the evidence as it is now, not on a stored result.
            locked.evaluate()
            blockers = locked.gate_blockers() if decision == Decision.YES else []
            if not override_reason:
                self._refuse_yes_if_blocked(blockers)  # evidence that changed meanwhile
            snapshot = locked.evidence_snapshot()
            if not blockers:
                override_reason = ""  # nothing was overridden
            else:
                snapshot["override"] = {"reason": override_reason, "blockers": blockers}
            try:
                with transaction.atomic():
                    gate_decision = GateDecision.objects.create(
                        experiment=locked,
                        stage=locked_stage,
                        round=current_round,
                        decision=decision,
                        question=GATE_QUESTIONS[locked_stage],
                        conditions=conditions,
                        notes=notes,
                        decided_by=by,
                        snapshot=snapshot,
                        override_reason=override_reason,
                    )
            except IntegrityError as error:
                raise ValidationError(
                    "Someone decided this gate at the same moment; their decision was recorded."
                ) from error
            summary = f"{locked_stage.label} gate: {gate_decision.get_decision_display()}"
            detail = conditions or learnings or notes
            if override_reason:
                summary += (
                    f" AGAINST THE EVIDENCE (override: {override_reason}; "
                    f"overridden: {'; '.join(blockers)})"
                )
            locked.record(
                "gate",
                f"{summary} — {detail}" if detail else summary,
                by=by,
                decision=decision,
                stage=locked_stage,
                override=bool(override_reason),
            )
            if decision == Decision.YES and locked_stage in NEXT_STAGE:
                locked._advance(NEXT_STAGE[locked_stage], by=by)
            elif decision == Decision.YES:
                locked.set_status(Status.PASSED, by=by, reason="Integration gate passed")
                RadarMoveProposal.objects.create(
                    experiment=locked,
                    ring="adopt",
                    rationale=f"{locked.key} passed its Integration gate.",
                )
                locked.record("radar", f"Proposed moving {locked.technique} to ADOPT", by=by)
            elif decision == Decision.NO:
                locked.learnings = learnings
                locked.save(update_fields=["learnings", "updated_at"])
                # "Should we keep this in production?" answered NO means rolling it back.
                status = Status.ROLLED_BACK if locked_stage == Stage.INTEGRATION else Status.KILLED
                locked.set_status(status, by=by, reason=f"{locked_stage.label} gate: NO")
                # Rolled back from production: deprioritised (HOLD); earlier: rejected (SKIP).
                ring = "hold" if locked_stage == Stage.INTEGRATION else "skip"
                RadarMoveProposal.objects.create(
                    experiment=locked,
                    ring=ring,
                    rationale=f"{locked.key} was stopped at its {locked_stage.label} gate: "
                    f"{learnings}",
                )
                locked.record(
                    "radar", f"Proposed moving {locked.technique} to {ring.upper()}", by=by
                )
            # The new stage has its own time-box, a closed experiment no flags.
            locked.evaluate()
        self.refresh_from_db()
        return gate_decision

    @staticmethod
    def _refuse_yes_if_blocked(blockers):
        if blockers:
            raise ValidationError(
                "YES is refused: the evidence does not support it. "
                + " ".join(f"• {blocker}." for blocker in blockers)
                + " To pass the gate anyway, give an override reason: the decision is then "
                "recorded as against the evidence."
            )

    def _advance(self, stage, *, by):
        old = self.get_stage_display()
        self.stage = stage
        self.save(update_fields=["stage", "updated_at"])
        if self.timebox(stage) is None:
            starts_on, deadline = StageTimebox.typical(stage)
            self.set_timebox(stage, starts_on=starts_on, deadline=deadline)
        self.record("stage", f"Stage {old} → {self.get_stage_display()}", by=by, stage=stage)

    def open_gate_round(self):
        """The round number the next decision on the current gate will get."""
        return self.gate_decisions.filter(stage=self.stage).count() + 1

    def should_stop(self):
        """(stop, reasons): the attention reasons, as sentences; any of them says stop.

        A stop is a kill: the client then ends the run as killed. So a passed or shipped
        experiment never says stop; a killed or rolled-back one always does. Reads the stored
        evaluation, so it costs a couple of queries; evaluate() keeps it current whenever runs
        report.
        """
        reasons = [str(reason) for reason in self.attention_reasons()]
        return bool(reasons), reasons


@dataclass(frozen=True)
class AttentionReason:
    """One reason an experiment needs attention; str() is the sentence flags and should-stop
    show, `criterion` the tripped criterion of a HARD_KILL."""

    kind: AttentionKind
    message: str
    criterion: object = None

    def __str__(self):
        return self.message
