import math

import numpy as np
from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from ..divergence import Tolerance, compare
from ..enums import (
    Aggregation,
    Comparator,
    CriterionCheck,
    CriterionKind,
    Result,
    Severity,
    Stage,
    SupersedeStatus,
)
from .chunks import SeriesChunk
from .evidence import MetricSummary

BASELINE_VARIANT = "baseline"


def frozen_message(stage):
    return (
        f"The {Stage(stage).label} criteria are frozen since the first {Stage(stage).label} run "
        "reported; supersede the criterion with a reason instead."
    )


# Percentiles of a handful of run summaries say little about the tail: they are taken over
# per-bucket or per-sample values when the runs logged them (Criterion._aggregate).
PERCENTILES = (Aggregation.P5, Aggregation.P99)

COMPARE = {
    Comparator.LT: lambda a, b: a < b,
    Comparator.LE: lambda a, b: a <= b,
    Comparator.GT: lambda a, b: a > b,
    Comparator.GE: lambda a, b: a >= b,
}
AGGREGATE = {
    Aggregation.MEAN: np.mean,
    Aggregation.MEDIAN: np.median,
    Aggregation.P5: lambda values: np.percentile(values, 5),
    Aggregation.P99: lambda values: np.percentile(values, 99),
    Aggregation.MAX: np.max,
    Aggregation.LAST: lambda values: values[-1],
}

# What the criterion says about the experiment; results and checks are not part of it.
DEFINITION_FIELDS = (
    "experiment_id",
    "stage",
    "kind",
    "severity",
    "statement",
    "metric",
    "aggregation",
    "comparator",
    "threshold",
    "relative_to_baseline",
    "variant",
    "min_seeds",
    "check_kind",
    "reference_run_id",
    "reference_platform",
    "platform",
    "abs_tolerance",
    "rel_tolerance",
    "last_steps",
)


class CriterionQuerySet(models.QuerySet):
    def current(self):
        return self.filter(superseded_by__isnull=True)

    def kills(self):
        return self.filter(kind=CriterionKind.KILL)

    def of_stage(self, stage):
        return self.filter(stage=stage)

    def hard_kills(self):
        return self.filter(kind=CriterionKind.KILL, severity=Severity.HARD)

    def soft_kills(self):
        return self.filter(kind=CriterionKind.KILL, severity=Severity.SOFT)

    def tripped(self):
        return self.filter(kind=CriterionKind.KILL, result=Result.HOLDS)

    def machine_checked(self):
        return self.exclude(metric="")

    def of_active_experiments(self):
        return self.filter(experiment__status="active")

    def at_experiment_stage(self):
        """Criteria of the stage their experiment is in now."""
        return self.filter(stage=models.F("experiment__stage"))


class StageFreeze(models.Model):
    """The recorded fact that a stage's criteria froze: its first run reported at frozen_at.

    Kept apart from the runs so that deleting runs never unfreezes anything.
    """

    experiment = models.ForeignKey(
        "experiments.Experiment", on_delete=models.CASCADE, related_name="freezes"
    )
    stage = models.CharField(max_length=20, choices=Stage)
    frozen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["frozen_at"]
        constraints = [
            models.UniqueConstraint(fields=["experiment", "stage"], name="one_freeze_per_stage")
        ]

    def __str__(self):
        return f"{self.experiment.key} {self.get_stage_display()} criteria frozen {self.frozen_at}"

    @classmethod
    def is_frozen(cls, experiment_id, stage):
        return cls.objects.filter(experiment_id=experiment_id, stage=stage).exists()


class Criterion(models.Model):
    """A success or kill criterion of one stage, frozen once that stage's first run reports.

    A machine-checkable criterion compares an aggregation of one metric over the runs of a
    variant (or its change against the baseline, in percent) with a threshold. The
    criterion "holds" when the comparison is true: a success criterion is then met, a kill
    criterion tripped. A qualitative criterion (no metric) is checked by hand.
    """

    experiment = models.ForeignKey(
        "experiments.Experiment", on_delete=models.CASCADE, related_name="criteria"
    )
    # Blank only until saved: a criterion written without a stage is the current stage's.
    stage = models.CharField(
        max_length=20,
        choices=Stage,
        blank=True,
        help_text="The stage whose gate this criterion decides.",
    )
    kind = models.CharField(max_length=10, choices=CriterionKind)
    severity = models.CharField(
        max_length=10, choices=Severity, blank=True, help_text="Kill criteria only."
    )
    statement = models.CharField(
        max_length=300,
        blank=True,
        help_text="In words; written from the metric fields when left empty.",
    )
    metric = models.CharField(max_length=100, blank=True, help_text="Empty: checked by hand.")
    aggregation = models.CharField(max_length=10, choices=Aggregation, blank=True)
    comparator = models.CharField(max_length=2, choices=Comparator, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    relative_to_baseline = models.BooleanField(
        default=False,
        help_text="Compare the change against the baseline variant, in percent of it.",
    )
    variant = models.CharField(max_length=100, default="candidate")
    min_seeds = models.PositiveSmallIntegerField(default=1)
    # A reference check: the variant's runs step by step against a reference run, or the
    # runs on a reference platform (Run.platform), within an absolute and/or relative
    # tolerance (experiments/drift.py), e.g. MI300X loss within 1e-3 relative of the H100 run.
    check_kind = models.CharField(
        max_length=20,
        choices=CriterionCheck,
        default=CriterionCheck.THRESHOLD,
        verbose_name="check",
    )
    reference_run = models.ForeignKey(
        "experiments.Run",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The run the others must match.",
    )
    reference_platform = models.CharField(
        max_length=200, blank=True, help_text="Or: the runs on this platform are the reference."
    )
    platform = models.CharField(
        max_length=200, blank=True, help_text="Only runs on this platform; empty: any other."
    )
    abs_tolerance = models.FloatField(null=True, blank=True)
    rel_tolerance = models.FloatField(null=True, blank=True)
    last_steps = models.PositiveIntegerField(
        null=True, blank=True, help_text="Only the last N steps both logged; empty: every step."
    )

    # Set by evaluation (machine-checked) or by a person (qualitative).
    result = models.CharField(max_length=20, choices=Result, default=Result.PENDING)
    observed = models.FloatField(null=True, blank=True)
    result_detail = models.CharField(max_length=300, blank=True)
    # A reference check's evidence: {metric, reference, run, first_divergent_step}, for the
    # link to the drift comparison that shows it.
    evidence = models.JSONField(default=dict, blank=True)
    evaluated_at = models.DateTimeField(null=True, blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    checked_at = models.DateTimeField(null=True, blank=True)

    superseded_by = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="supersedes"
    )
    supersede_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = CriterionQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "id"]
        verbose_name_plural = "criteria"
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(kind=CriterionKind.KILL) & models.Q(severity__in=Severity.values)
                )
                | (models.Q(kind=CriterionKind.SUCCESS) & models.Q(severity="")),
                name="criterion_severity_only_for_kill",
            ),
            models.CheckConstraint(
                condition=models.Q(metric="")
                | (
                    models.Q(check_kind=CriterionCheck.THRESHOLD)
                    & models.Q(aggregation__in=Aggregation.values)
                    & models.Q(comparator__in=Comparator.values)
                    & models.Q(threshold__isnull=False)
                )
                | (
                    models.Q(check_kind=CriterionCheck.MATCHES_REFERENCE)
                    & (models.Q(reference_run__isnull=False) | ~models.Q(reference_platform=""))
                    & (
                        models.Q(abs_tolerance__isnull=False)
                        | models.Q(rel_tolerance__isnull=False)
                    )
                ),
                name="criterion_metric_fields_complete",
            ),
            models.CheckConstraint(
                condition=~models.Q(metric="") | ~models.Q(statement=""),
                name="criterion_qualitative_has_statement",
            ),
            models.CheckConstraint(
                condition=models.Q(min_seeds__gte=1), name="criterion_min_seeds_positive"
            ),
            models.CheckConstraint(
                condition=models.Q(stage__in=Stage.values), name="criterion_stage_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(superseded_by__isnull=True) | ~models.Q(supersede_reason=""),
                name="criterion_superseded_with_reason",
            ),
        ]

    def __str__(self):
        return self.statement

    def save(self, *args, allow_after_data=False, **kwargs):
        """Save, refusing to create or redefine a criterion of a frozen stage."""
        if not self.stage:
            self.stage = self.experiment.stage
        if not self.statement.strip() and self.metric:
            self.statement = self.describe()
        if not allow_after_data and self._definition_changed():
            frozen = self.frozen_stage()
            if frozen:
                raise ValidationError(frozen_message(frozen))
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        if self.is_frozen:
            raise ValidationError(frozen_message(self.stage))
        return super().delete(*args, **kwargs)

    # --- rules ---

    def clean(self):
        errors = {}
        if not self.stage and self.experiment_id:
            self.stage = self.experiment.stage
        if self.kind == CriterionKind.KILL and not self.severity:
            errors["severity"] = "A kill criterion is hard (stop at once) or soft (discuss)."
        if self.kind == CriterionKind.SUCCESS and self.severity:
            errors["severity"] = "Only kill criteria have a severity."
        if self.metric and self.is_reference_check:
            errors.update(self._reference_errors())
        elif self.metric:
            for name in ("aggregation", "comparator"):
                if not getattr(self, name):
                    errors[name] = "A metric criterion needs this."
            if self.threshold is None:
                errors["threshold"] = "A metric criterion needs a threshold."
            elif not math.isfinite(self.threshold):
                errors["threshold"] = "The threshold must be a finite number."
            if self.relative_to_baseline and self.variant == BASELINE_VARIANT:
                errors["variant"] = "Compare a variant other than the baseline against it."
        elif not self.statement.strip():
            errors["statement"] = "Say what is checked by hand, or name a metric."
        if errors:
            raise ValidationError(errors)

    def _reference_errors(self):
        errors = {}
        if self.reference_run_id is None and not self.reference_platform.strip():
            errors["reference_run"] = "Name the reference: a run, or a platform of the experiment."
        elif self.reference_run_id is not None and self.reference_platform.strip():
            errors["reference_platform"] = "Name one reference: a run or a platform, not both."
        elif (
            self.reference_run_id is not None
            and self.experiment_id
            and self.reference_run.experiment_id != self.experiment_id
        ):
            errors["reference_run"] = "The reference run must be a run of this experiment."
        if self.abs_tolerance is None and self.rel_tolerance is None:
            errors["rel_tolerance"] = "Give an absolute or a relative tolerance (or both)."
        for name in ("abs_tolerance", "rel_tolerance"):
            value = getattr(self, name)
            if value is not None and (not math.isfinite(value) or value < 0):
                errors[name] = "A tolerance is a finite number of 0 or more."
        if self.last_steps == 0:
            errors["last_steps"] = "Check at least the last step, or leave empty for every step."
        return errors

    def _definition_changed(self):
        if self.pk is None:
            return True
        stored = Criterion.objects.filter(pk=self.pk).values(*DEFINITION_FIELDS).first()
        if stored is None:
            return True
        return any(getattr(self, name) != stored[name] for name in DEFINITION_FIELDS)

    def frozen_stage(self):
        """The frozen stage this save would touch (the stored one or the new one), or None."""
        stages = {self.stage}
        if self.pk is not None:
            stored = Criterion.objects.filter(pk=self.pk).values_list("stage", flat=True).first()
            stages.add(stored or self.stage)
        for stage in sorted(stages):
            if StageFreeze.is_frozen(self.experiment_id, stage):
                return stage
        return None

    @property
    def is_frozen(self):
        """True once the first run of the criterion's stage has reported."""
        return StageFreeze.is_frozen(self.experiment_id, self.stage)

    @transaction.atomic
    def supersede(self, *, by, reason, **changes):
        """Replace this criterion with a changed copy, visibly and with a reason.

        Only a Lead may (an owner proposes it: propose_supersede). The old row stays, marked
        superseded by the new one; both appear in the history.
        """
        if not by.has_perm("experiments.sign_gate"):
            raise PermissionDenied(
                "Only a Lead can supersede a criterion; propose the change for a Lead to approve."
            )
        reason = (reason or "").strip()
        if not reason:
            raise ValidationError({"supersede_reason": "Say why the criterion changes."})
        locked = Criterion.objects.select_for_update().get(pk=self.pk)
        if locked.superseded_by_id:
            raise ValidationError(
                f"This criterion was already superseded by “{locked.superseded_by.statement}”."
            )
        fields = {name: getattr(self, name) for name in DEFINITION_FIELDS}
        fields.update(changes)
        if "statement" not in changes and any(
            name in changes for name in DEFINITION_FIELDS if name != "statement"
        ):
            fields["statement"] = ""  # re-worded from the new metric fields
        replacement = Criterion(created_by=by, **fields)
        replacement.full_clean(exclude=["experiment"])
        replacement.save(allow_after_data=True)
        self.superseded_by = replacement
        self.supersede_reason = reason
        self.save(update_fields=["superseded_by", "supersede_reason"])
        self.experiment.record(
            "criterion",
            f"Criterion “{self.statement}” superseded by “{replacement.statement}”: {reason}",
            by=by,
            old=self.pk,
            new=replacement.pk,
        )
        return replacement

    def propose_supersede(self, *, by, reason, **changes):
        """Propose replacing this criterion, for a Lead to approve; returns the proposal."""
        reason = (reason or "").strip()
        if not reason:
            raise ValidationError({"supersede_reason": "Say why the criterion changes."})
        if not self.is_current:
            raise ValidationError("This criterion was already superseded.")
        fields = {name: getattr(self, name) for name in DEFINITION_FIELDS}
        fields.update(changes)
        Criterion(**fields).full_clean(exclude=["experiment"])  # refuse a broken proposal now
        proposal = SupersedeProposal.objects.create(
            criterion=self, changes=changes, reason=reason, proposed_by=by
        )
        self.experiment.record(
            "criterion",
            f"Proposed superseding “{self.statement}” ({_describe_changes(changes)}): {reason}",
            by=by,
            proposal=proposal.pk,
        )
        return proposal

    def check_by_hand(self, *, by, holds, note=""):
        """Record the outcome of a qualitative criterion, checked by a person."""
        if self.is_machine_checked:
            raise ValidationError("This criterion is evaluated from the runs, not by hand.")
        self.result = Result.HOLDS if holds else Result.DOES_NOT_HOLD
        self.result_detail = note.strip()[:300]
        self.checked_by = by
        self.checked_at = timezone.now()
        self.save(update_fields=["result", "result_detail", "checked_by", "checked_at"])
        self.experiment.record(
            "criterion", f"Checked “{self.statement}”: {self.result_label}", by=by
        )

    # --- reading ---

    @property
    def is_machine_checked(self):
        return bool(self.metric)

    @property
    def is_reference_check(self):
        return self.check_kind == CriterionCheck.MATCHES_REFERENCE

    @property
    def is_current(self):
        return self.superseded_by_id is None

    @property
    def trips_hard_kill(self):
        return (
            self.kind == CriterionKind.KILL
            and self.severity == Severity.HARD
            and self.result == Result.HOLDS
            and self.is_current
        )

    @property
    def result_label(self):
        """The result in the criterion's own terms: met / not met, tripped / clear."""
        if self.result == Result.HOLDS:
            return "tripped" if self.kind == CriterionKind.KILL else "met"
        if self.result == Result.DOES_NOT_HOLD:
            return "clear" if self.kind == CriterionKind.KILL else "not met"
        return self.get_result_display().lower()

    @property
    def result_badge(self):
        """CSS badge class: good news ok, bad news bad, unknown warn."""
        if self.result in (Result.PENDING, Result.INSUFFICIENT):
            return "warn"
        good = (self.kind == CriterionKind.SUCCESS) == (self.result == Result.HOLDS)
        return "ok" if good else "bad"

    def describe(self):
        if self.is_reference_check:
            return self._describe_reference()
        comparator = Comparator(self.comparator).label
        aggregation = Aggregation(self.aggregation).label
        if self.relative_to_baseline:
            return (
                f"{aggregation} {self.metric} of {self.variant} vs {BASELINE_VARIANT} changes by "
                f"{comparator} {self.threshold:+g}%"
            )
        return f"{aggregation} {self.metric} of {self.variant} {comparator} {self.threshold:g}"

    def _describe_reference(self):
        reference = (
            f"run {self.reference_run.name}" if self.reference_run_id else self.reference_platform
        )
        runs = f"{self.variant} on {self.platform}" if self.platform else self.variant
        tolerance = Tolerance(self.abs_tolerance, self.rel_tolerance)
        steps = f"over the last {self.last_steps} steps" if self.last_steps else "at every step"
        if self.kind == CriterionKind.KILL:
            return f"{self.metric} of {runs} diverges from {reference} beyond {tolerance} {steps}"
        return f"{self.metric} of {runs} within {tolerance} of {reference} {steps}"

    def snapshot(self):
        return {
            "id": self.pk,
            "stage": self.stage,
            "statement": self.statement,
            "kind": self.kind,
            "severity": self.severity,
            "result": self.result,
            "label": self.result_label,
            "observed": self.observed,
            "detail": self.result_detail,
            "evidence": self.evidence,
        }

    # --- evaluation ---

    def assess(self, values_by_variant, samples=None):
        """(result, observed, detail) on {variant: [(seed, run_id, value), ...]}.

        `samples` ({run_id: [values]}, source) lets a percentile be taken over per-bucket or
        per-sample values of the runs; without it a percentile is over one summary per run,
        and the detail says "across runs". Non-finite values are left out here (they flag
        the experiment separately).
        """
        candidate = _usable(values_by_variant.get(self.variant, []))
        baseline = _usable(values_by_variant.get(BASELINE_VARIANT, []))
        missing = []
        if _seed_count(candidate) < self.min_seeds:
            missing.append(f"{self.variant} has {_seed_count(candidate)} of {self.min_seeds} seeds")
        if self.relative_to_baseline and _seed_count(baseline) < self.min_seeds:
            missing.append(
                f"{BASELINE_VARIANT} has {_seed_count(baseline)} of {self.min_seeds} seeds"
            )
        if missing:
            return Result.INSUFFICIENT, None, "; ".join(missing)
        observed, over = self._aggregate(candidate, samples)
        detail = f"{self.variant}: {observed:.4g}"
        if self.relative_to_baseline:
            reference, _ = self._aggregate(baseline, samples)
            if reference == 0:
                return Result.INSUFFICIENT, None, "The baseline is 0: no relative change."
            detail += f", {BASELINE_VARIANT}: {reference:.4g}"
            observed = (observed - reference) / abs(reference) * 100
            detail += f", change {observed:+.2f}%"
        if over:
            detail += f" ({over})"
        holds = COMPARE[self.comparator](observed, self.threshold)
        return (Result.HOLDS if holds else Result.DOES_NOT_HOLD), observed, detail

    @property
    def is_percentile(self):
        return self.aggregation in PERCENTILES

    def _aggregate(self, rows, samples):
        """(value, what it was taken over) for the rows of one variant."""
        values = [value for _, _, value in rows]
        if not self.is_percentile:
            return float(AGGREGATE[self.aggregation](values)), ""
        if samples is not None:
            by_run, source = samples
            pooled = [
                value
                for _, run_id, _ in rows
                for value in by_run.get(run_id, [])
                if value is not None and math.isfinite(value)
            ]
            if pooled:
                over = f"over {len(pooled)} {source} values of {len(rows)} runs"
                return float(AGGREGATE[self.aggregation](pooled)), over
        return float(AGGREGATE[self.aggregation](values)), f"across runs: {len(rows)} run summaries"


def _describe_changes(changes):
    return ", ".join(f"{name} → {value}" for name, value in changes.items()) or "no change"


class SupersedeProposal(models.Model):
    """An owner's proposed change to a frozen criterion; a Lead approves or dismisses it."""

    criterion = models.ForeignKey(
        Criterion, on_delete=models.PROTECT, related_name="supersede_proposals"
    )
    changes = models.JSONField(help_text="The definition fields that change, new values.")
    reason = models.TextField()
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    proposed_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=10, choices=SupersedeStatus, default=SupersedeStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(blank=True)

    class Meta:
        ordering = ["proposed_at", "id"]

    def __str__(self):
        return f"Supersede “{self.criterion}”: {self.reason}"

    @property
    def summary(self):
        return _describe_changes(self.changes)

    def approve(self, *, by):
        """Supersede the criterion as proposed (Lead only); returns the replacement."""
        if not by.has_perm("experiments.sign_gate"):
            raise PermissionDenied("Only a Lead can approve superseding a criterion.")
        with transaction.atomic():
            self._claim(SupersedeStatus.APPROVED, by=by)
            return self.criterion.supersede(
                by=by, reason=f"{self.reason} (proposed by {self.proposed_by})", **self.changes
            )

    def dismiss(self, *, by, note=""):
        if not by.has_perm("experiments.sign_gate"):
            raise PermissionDenied("Only a Lead can dismiss a proposed criterion change.")
        with transaction.atomic():
            self._claim(SupersedeStatus.DISMISSED, by=by, note=note)
            self.criterion.experiment.record(
                "criterion",
                f"Dismissed the proposal to supersede “{self.criterion.statement}”"
                + (f": {note.strip()}" if note.strip() else ""),
                by=by,
                proposal=self.pk,
            )

    def _claim(self, status, *, by, note=""):
        claimed = SupersedeProposal.objects.filter(
            pk=self.pk, status=SupersedeStatus.PENDING
        ).update(status=status, decided_by=by, decided_at=timezone.now(), decision_note=note)
        if not claimed:
            raise ValidationError("This proposal was already decided.")
        self.refresh_from_db()


def _usable(rows):
    # Runs in the order they were created, so that "last value" is the latest run's value.
    return sorted(
        (row for row in rows if row[2] is not None and math.isfinite(row[2])),
        key=lambda row: row[1],
    )


def _seed_count(rows):
    """Distinct seeds; a run without a seed counts on its own."""
    return len({seed if seed is not None else ("run", run_id) for seed, run_id, _ in rows})


def evaluate_criteria(experiment, criteria, *, now):
    """Assess each machine-checked criterion on its own stage's runs and store the results.

    Success criteria count finished runs only: a gate passes on complete evidence. Kill
    criteria read running runs too (their latest values), so that a job can be stopped
    while it runs. The evidence is read once per (stage, finished only) for all the metrics
    named, whatever the number of metrics, runs or points.
    """
    groups = {}
    for criterion in criteria:
        if criterion.is_reference_check and criterion.is_machine_checked:
            finished_only = criterion.kind == CriterionKind.SUCCESS
            runs, _ = experiment.runs.counting_for(criterion.stage).counted(
                finished_only=finished_only
            )
            _store(criterion, *assess_reference(criterion, runs), now=now)
        elif criterion.is_machine_checked:
            finished_only = criterion.kind == CriterionKind.SUCCESS
            by_metric = groups.setdefault((criterion.stage, finished_only), {})
            by_metric.setdefault(criterion.metric, []).append(criterion)
    for (stage, finished_only), by_metric in groups.items():
        runs, _ = experiment.runs.counting_for(stage).counted(finished_only=finished_only)
        run_values = experiment.runs.values_by_metric(list(by_metric), among=runs)
        for metric, group in by_metric.items():
            _assess_group(group, run_values[metric], runs, metric, now)


def _assess_group(group, run_values, runs, metric, now):
    values_by_variant = {}
    for run, value in run_values:
        values_by_variant.setdefault(run.variant, []).append((run.seed, run.pk, value))
    samples = None
    if any(criterion.is_percentile for criterion in group):
        samples = MetricSummary.objects.for_runs(runs).sample_values(metric)
    for criterion in group:
        _store(criterion, *criterion.assess(values_by_variant, samples), now=now)


def _store(criterion, result, observed, detail, evidence=None, *, now):
    evidence = evidence or {}
    criterion.result, criterion.observed = result, observed
    criterion.result_detail, criterion.evaluated_at = detail[:300], now
    criterion.evidence = evidence
    # A queryset update: results change as evidence arrives, the definition does not.
    Criterion.objects.filter(pk=criterion.pk).update(
        result=result, observed=observed, result_detail=detail[:300], evaluated_at=now,
        evidence=evidence,
    )  # fmt: skip


def assess_reference(criterion, runs):
    """(result, observed, detail, evidence) of a reference check on the counted `runs`.

    Each run of the variant (on `platform` if named) that is not a reference is compared with
    the reference run, or with the reference platform's run of the same seed (else its
    latest). observed: the largest relative difference (absolute without a relative
    tolerance); evidence names the first run to diverge and the step.
    """
    if criterion.reference_run_id:
        references = [criterion.reference_run] if criterion.reference_run else []
        missing = "the reference run is gone"
    else:
        references = [run for run in runs if run.platform == criterion.reference_platform]
        missing = f"no run on {criterion.reference_platform} to compare with"
    if not references:
        return Result.INSUFFICIENT, None, missing, None
    reference_ids = {run.pk for run in references}
    reference_platforms = {run.platform for run in references}
    candidates = [
        run
        for run in runs
        if run.variant == criterion.variant
        and run.pk not in reference_ids
        and (run.platform == criterion.platform if criterion.platform else
             run.platform not in reference_platforms or criterion.reference_run_id)
    ]  # fmt: skip
    if _seed_count([(run.seed, run.pk, 0) for run in candidates]) < criterion.min_seeds:
        where = f" on {criterion.platform}" if criterion.platform else " on another platform"
        return (Result.INSUFFICIENT, None, f"{criterion.variant} has {len(candidates)} runs"
                f"{where}, {criterion.min_seeds} seeds needed", None)  # fmt: skip
    latest = max(references, key=lambda run: (run.started_at, run.pk))
    by_seed = {run.seed: run for run in sorted(references, key=lambda r: (r.started_at, r.pk))}
    tolerance = Tolerance(criterion.abs_tolerance, criterion.rel_tolerance)
    logged = SeriesChunk.series({*reference_ids, *(run.pk for run in candidates)}, criterion.metric)
    scale = "max_rel" if tolerance.relative is not None else "max_abs"
    worst, first, compared = None, None, 0
    for run in candidates:
        reference = by_seed.get(run.seed, latest) if run.seed is not None else latest
        if reference.pk not in logged or run.pk not in logged:
            who = reference.name if reference.pk not in logged else run.name
            return (Result.INSUFFICIENT, None, f"{who} logged no {criterion.metric}",
                    None)  # fmt: skip
        row = compare(logged[reference.pk], logged[run.pk], tolerance,
                      last=criterion.last_steps, width=16)  # fmt: skip
        if not row["compared_steps"]:
            return (Result.INSUFFICIENT, None, f"{run.name} and {reference.name} share no step "
                    f"of {criterion.metric}", None)  # fmt: skip
        compared += row["compared_steps"]
        if row[scale] and (worst is None or row[scale]["value"] > worst[1][scale]["value"]):
            worst = (run, row, reference)
        step = row["first_divergent_step"]
        if step is not None and (first is None or step < first[1]["first_divergent_step"]):
            first = (run, row, reference)
    label = scale.removeprefix("max_")
    largest = (
        f"; largest {label} {worst[1][scale]['value']:.3g} ({worst[0].name} at step "
        f"{worst[1][scale]['step']})"
        if worst
        else ""
    )
    observed = worst[1][scale]["value"] if worst else 0.0
    if first is None:
        matches = True
        detail = (f"{len(candidates)} run{'s' if len(candidates) > 1 else ''} within {tolerance} "
                  f"over {compared:,} steps{largest}")  # fmt: skip
        run, row, reference = worst or (candidates[0], None, latest)
        evidence = {"metric": criterion.metric, "reference": reference.pk, "run": run.pk,
                    "first_divergent_step": None}  # fmt: skip
    else:
        matches = False
        run, row, reference = first
        detail = (f"{run.name} beyond {tolerance} of {reference.name} from step "
                  f"{row['first_divergent_step']} ({row['divergent_steps']:,} of "
                  f"{row['compared_steps']:,} steps){largest}")  # fmt: skip
        evidence = {"metric": criterion.metric, "reference": reference.pk, "run": run.pk,
                    "first_divergent_step": row["first_divergent_step"]}  # fmt: skip
    holds = matches if criterion.kind == CriterionKind.SUCCESS else not matches
    return (Result.HOLDS if holds else Result.DOES_NOT_HOLD), observed, detail, evidence
