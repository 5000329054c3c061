from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.utils import timezone

from ..enums import Decision, RadarMoveStatus, Stage


class GateDecisionQuerySet(models.QuerySet):
    def against_evidence(self):
        """YES decisions a Lead made over the evidence's objections, with a reason."""
        return self.exclude(override_reason="")

    def decided_between(self, since, until):
        """Decisions at or after `since` (None: from the beginning) and before `until`."""
        decisions = self.filter(decided_at__lt=until)
        return decisions.filter(decided_at__gte=since) if since else decisions


class GateDecision(models.Model):
    """The answer to a stage's gate question, with the evidence it was made on.

    Immutable once written. A gate can be answered NOT YET several times (one row per
    round) and YES or NO once; the unique constraints make concurrent deciders collide in
    the database so that exactly one decision per round is recorded.
    """

    experiment = models.ForeignKey(
        "experiments.Experiment", on_delete=models.PROTECT, related_name="gate_decisions"
    )
    stage = models.CharField(max_length=20, choices=Stage)
    round = models.PositiveSmallIntegerField(help_text="1 for the first answer at this gate.")
    decision = models.CharField(max_length=10, choices=Decision)
    question = models.CharField(max_length=200)
    conditions = models.TextField(blank=True, help_text="What must hold before asking again.")
    notes = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)
    snapshot = models.JSONField(help_text="Criteria results and statistics at decision time.")
    # Set when a Lead passed YES although the evidence did not support it (snapshot["override"]).
    override_reason = models.TextField(blank=True)

    objects = GateDecisionQuerySet.as_manager()

    class Meta:
        ordering = ["decided_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "stage", "round"], name="one_decision_per_gate_round"
            ),
            models.UniqueConstraint(
                fields=["experiment", "stage"],
                condition=models.Q(decision__in=["yes", "no"]),
                name="one_final_decision_per_gate",
            ),
            models.CheckConstraint(
                condition=~models.Q(decision="not_yet") | ~models.Q(conditions=""),
                name="not_yet_has_conditions",
            ),
            models.CheckConstraint(
                condition=models.Q(decision="yes") | models.Q(override_reason=""),
                name="only_yes_overrides_the_evidence",
            ),
        ]

    def __str__(self):
        return f"{self.experiment.key} {self.stage} gate: {self.get_decision_display()}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValidationError("A gate decision cannot be changed once recorded.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError("A gate decision cannot be deleted.")

    @property
    def is_against_evidence(self):
        return bool(self.override_reason)

    @property
    def badge(self):
        return {Decision.YES: "ok", Decision.NO: "bad", Decision.NOT_YET: "warn"}[self.decision]


class RadarMoveProposal(models.Model):
    """A radar move an experiment's outcome suggests; a Lead confirms it with a reason."""

    experiment = models.ForeignKey(
        "experiments.Experiment", on_delete=models.CASCADE, related_name="radar_proposals"
    )
    ring = models.CharField(max_length=20)
    rationale = models.TextField()
    status = models.CharField(
        max_length=10, choices=RadarMoveStatus, default=RadarMoveStatus.PENDING
    )
    proposed_at = models.DateTimeField(default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-proposed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment"],
                condition=models.Q(status="pending"),
                name="one_pending_radar_proposal",
            ),
        ]

    def __str__(self):
        return f"Move {self.experiment.technique} to {self.ring}"

    def confirm(self, *, by, reason):
        """Make the move on the radar (technique.move_to) and close the proposal."""
        self._check_may_decide(by, reason)
        with transaction.atomic():
            self._close(RadarMoveStatus.CONFIRMED, by=by, reason=reason)
            # HOLD and SKIP need the constraint the technique fails: the gate's learnings.
            failed_constraint = self.experiment.learnings if self.ring in ("hold", "skip") else ""
            self.experiment.technique.move_to(
                self.ring, by=by, reason=reason.strip(), failed_constraint=failed_constraint
            )
            self.experiment.record(
                "radar",
                f"Radar move of {self.experiment.technique} to {self.ring} confirmed: {reason}",
                by=by,
            )
        self.refresh_from_db()

    def dismiss(self, *, by, reason):
        self._check_may_decide(by, reason)
        self._close(RadarMoveStatus.DISMISSED, by=by, reason=reason)
        self.experiment.record("radar", f"Radar move to {self.ring} dismissed: {reason}", by=by)
        self.refresh_from_db()

    def _close(self, status, *, by, reason):
        # A conditional update, so that of two Leads deciding at once only one does.
        claimed = RadarMoveProposal.objects.filter(
            pk=self.pk, status=RadarMoveStatus.PENDING
        ).update(status=status, decided_by=by, decided_at=timezone.now(), reason=reason.strip())
        if not claimed:
            raise ValidationError("This proposal was already decided.")

    def _check_may_decide(self, user, reason):
        if not user.has_perm("radar.move_technique"):
            raise PermissionDenied("Only a Lead can move a technique on the radar.")
        if not (reason or "").strip():
            raise ValidationError({"reason": "Give the reason for the radar move."})
