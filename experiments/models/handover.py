from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from ..enums import ArtifactKind

# What each artifact must cover ("Knowledge Transfer and Documentation" in the seed).
ARTIFACT_PROMPTS = {
    ArtifactKind.IMPLEMENTATION: (
        "What this implements and why we adopted it; where it lives in the codebase; how to "
        "configure it; common issues and debugging approaches."
    ),
    ArtifactKind.DESIGN_DECISION: (
        "Why this approach was chosen and what tradeoffs were made (the alternatives and the "
        "revisit date have their own fields)."
    ),
    ArtifactKind.RUNBOOK: (
        "How to verify it is working; known failure modes and remediation; monitoring and "
        "alerting guidance; rollback procedure."
    ),
}


class KnowledgeArtifact(models.Model):
    """One knowledge-transfer document an Integration YES requires, so that what was learned
    does not walk out of the door with the person who built it."""

    experiment = models.ForeignKey(
        "experiments.Experiment", on_delete=models.CASCADE, related_name="knowledge_artifacts"
    )
    kind = models.CharField(max_length=20, choices=ArtifactKind)
    body = models.TextField(help_text="Markdown.")
    alternatives = models.TextField(
        blank=True, help_text="Design decision record: the alternatives considered."
    )
    revisit_on = models.DateField(
        null=True, blank=True, help_text="Design decision record: when to revisit the decision."
    )
    written_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["experiment", "kind"], name="one_knowledge_artifact_per_kind"
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=ArtifactKind.values),
                name="knowledge_artifact_kind_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="design_decision")
                | (~models.Q(alternatives="") & models.Q(revisit_on__isnull=False)),
                name="design_decision_has_alternatives_and_revisit_date",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} of {self.experiment.key}"

    @property
    def prompt(self):
        return ARTIFACT_PROMPTS[ArtifactKind(self.kind)]

    def clean(self):
        errors = {}
        if not self.body.strip():
            errors["body"] = "Write the section: " + ARTIFACT_PROMPTS[ArtifactKind(self.kind)]
        if self.kind == ArtifactKind.DESIGN_DECISION:
            if not self.alternatives.strip():
                errors["alternatives"] = "Name the alternatives that were considered."
            if not self.revisit_on:
                errors["revisit_on"] = "Say when this decision should be revisited."
        if errors:
            raise ValidationError(errors)

    @classmethod
    def write(cls, experiment, kind, *, by, body, alternatives="", revisit_on=None):
        """Write (or rewrite) one section; recorded on the experiment's history."""
        if kind not in ArtifactKind.values:
            raise ValidationError({"kind": f"Unknown knowledge-transfer section {kind!r}."})
        if not is_required(experiment):
            raise ValidationError(
                "Knowledge-transfer sections open when the Integration gate is answered YES."
            )
        artifact = cls.objects.filter(experiment=experiment, kind=kind).first() or cls(
            experiment=experiment, kind=kind
        )
        created = artifact.pk is None
        artifact.body = body.strip()
        artifact.alternatives = alternatives.strip()
        artifact.revisit_on = revisit_on
        artifact.written_by = by
        artifact.updated_at = timezone.now()
        artifact.full_clean(exclude=["experiment"])
        artifact.save()
        verb = "written" if created else "revised"
        experiment.record("edited", f"{artifact.get_kind_display()} {verb}", by=by, section=kind)
        return artifact


def is_required(experiment):
    """True once the experiment's Integration gate was answered YES."""
    return experiment.gate_decisions.filter(stage="integration", decision="yes").exists()


def handover_sections(experiment):
    """[(kind, label, prompt, artifact or None)] for the three sections, in order."""
    written = {artifact.kind: artifact for artifact in experiment.knowledge_artifacts.all()}
    return [
        (kind, kind.label, ARTIFACT_PROMPTS[kind], written.get(kind.value)) for kind in ArtifactKind
    ]


def missing_sections(experiment):
    """Labels of the sections still to write; empty when none is required or all are written."""
    if not is_required(experiment):
        return []
    return [label for _, label, _, artifact in handover_sections(experiment) if artifact is None]
