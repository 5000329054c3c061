from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from .paper import Paper


def _score_field(verbose_name, help_text="", null=False):
    return models.PositiveSmallIntegerField(
        verbose_name,
        null=null,
        blank=null,
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text=help_text,
    )


def _between(field, low, high):
    return models.CheckConstraint(
        condition=Q(**{f"{field}__isnull": True})
        | Q(**{f"{field}__gte": low, f"{field}__lte": high}),
        name=f"papers_papernote_{field}_range",
    )


class PaperNoteQuerySet(models.QuerySet):
    def by(self, user):
        return self.filter(author=user)

    def others_than(self, user):
        return self.exclude(author=user)


class PaperNote(models.Model):
    """One reader's structured note on one paper (the note template of the reading practice)."""

    class Viability(models.TextChoices):
        LIKELY = "likely_viable", "Likely viable"
        NEEDS_VALIDATION = "needs_validation", "Needs validation"
        PROBABLY_NOT = "probably_not", "Probably not"

    # (field suffix, label, what to look for): the seven red flags of critical reading.
    RED_FLAGS = [
        ("weak_baselines", "Weak or missing baselines", "Outdated or untuned baselines"),
        ("cherry_picked", "Cherry-picked examples", "Only the best cases are shown"),
        ("new_metrics", "New metrics that favour the approach", "Loses on standard metrics?"),
        ("toy_datasets", "Toy datasets only", "MNIST, CIFAR-10, small synthetic data"),
        ("missing_ablations", "Missing ablations", "Which components actually matter?"),
        ("reproducibility", "Reproducibility concerns", "No code, vague hyperparameters"),
        ("compute_advantage", "Compute advantage", "Gains from more compute, not method"),
    ]
    VIABILITY_SCORES = [
        ("computational_efficiency", "Computational efficiency"),
        ("integration_complexity", "Integration complexity"),
        ("robustness", "Robustness"),
        ("maintainability", "Maintainability"),
    ]

    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="paper_notes"
    )
    date_read = models.DateField(default=timezone.localdate)
    relevance = _score_field("relevance", "1 (not relevant) to 5 (directly relevant)")
    pass_reached = models.PositiveSmallIntegerField(
        "reading pass reached",
        choices=[(1, "Pass 1: survey"), (2, "Pass 2: approach"), (3, "Pass 3: deep")],
        default=1,
    )
    time_spent_minutes = models.PositiveIntegerField("time spent (minutes)", null=True, blank=True)
    summary = models.CharField(
        "one-sentence summary", max_length=300, help_text="What does this paper do?"
    )
    key_insight = models.TextField(blank=True, help_text="The core idea that makes it work")
    results = models.TextField(
        "results vs baselines", blank=True, help_text="Main quantitative results vs baselines"
    )
    limitations = models.TextField(blank=True, help_text="What the paper admits, what you infer")
    production_viability = models.CharField(max_length=20, choices=Viability, blank=True)
    implementation = models.TextField(
        "if I were to implement", blank=True, help_text="The main challenges"
    )

    flag_weak_baselines = models.BooleanField(default=False)
    flag_weak_baselines_comment = models.CharField(max_length=500, blank=True)
    flag_cherry_picked = models.BooleanField(default=False)
    flag_cherry_picked_comment = models.CharField(max_length=500, blank=True)
    flag_new_metrics = models.BooleanField(default=False)
    flag_new_metrics_comment = models.CharField(max_length=500, blank=True)
    flag_toy_datasets = models.BooleanField(default=False)
    flag_toy_datasets_comment = models.CharField(max_length=500, blank=True)
    flag_missing_ablations = models.BooleanField(default=False)
    flag_missing_ablations_comment = models.CharField(max_length=500, blank=True)
    flag_reproducibility = models.BooleanField(default=False)
    flag_reproducibility_comment = models.CharField(max_length=500, blank=True)
    flag_compute_advantage = models.BooleanField(default=False)
    flag_compute_advantage_comment = models.CharField(max_length=500, blank=True)

    computational_efficiency = _score_field("computational efficiency", null=True)
    integration_complexity = _score_field(
        "integration complexity", "5 = drop-in replacement", null=True
    )
    robustness = _score_field("robustness", null=True)
    maintainability = _score_field("maintainability", null=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PaperNoteQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["paper", "author"], name="papers_note_one_per_reader"),
            _between("relevance", 1, 5),
            _between("pass_reached", 1, 3),
            _between("computational_efficiency", 1, 5),
            _between("integration_complexity", 1, 5),
            _between("robustness", 1, 5),
            _between("maintainability", 1, 5),
        ]

    def __str__(self):
        return f"{self.author} on {self.paper}"

    def raised_flags(self):
        """(label, comment) for each red flag this reader ticked."""
        return [
            (label, getattr(self, f"flag_{field}_comment"))
            for field, label, _help in self.RED_FLAGS
            if getattr(self, f"flag_{field}")
        ]

    def scores(self):
        return [(label, getattr(self, field)) for field, label in self.VIABILITY_SCORES]

    def delete_by(self, user):
        """Delete this note if `user` wrote it; notes are personal, so nobody else may."""
        if user.pk != self.author_id or not user.has_perm("papers.delete_papernote"):
            raise PermissionDenied("Only the author of a note may delete it.")
        self.delete()

    def fill_blanks_from(self, other):
        """Copy into this note the fields `other` has and this one lacks (used by merges)."""
        changed = []
        for field in self._meta.concrete_fields:
            if field.name in {"id", "paper", "author", "created_at", "updated_at"}:
                continue
            mine, theirs = getattr(self, field.attname), getattr(other, field.attname)
            if theirs not in (None, "", False) and mine in (None, "", False):
                setattr(self, field.attname, theirs)
                changed.append(field.attname)
        if changed:
            self.save(update_fields=[*changed, "updated_at"])
