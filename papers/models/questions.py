import datetime
import difflib

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from .paper import Paper
from .passages import Passage

ANSWERED_NEEDS_CONCLUSION = "Write the conclusion before marking the question answered."
ANSWERED_NEEDS_SUPPORT = (
    "A question is answered only with evidence: add at least one piece of evidence that "
    "supports the conclusion first."
)
PASSAGE_OF_ANOTHER_PAPER = "That passage is from another paper."
LAST_SUPPORT = (
    "This is the only evidence supporting the answer: reopen the question (status open or "
    "partly answered) or add other supporting evidence first."
)

# A question with no activity for a month (30 days) is put to the monthly review.
STALE_AFTER = datetime.timedelta(days=30)


class ResearchQuestionQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(status=ResearchQuestion.Status.ANSWERED)

    def stale_on(self, day):
        """Open questions with no activity (no edit, no evidence added, no conclusion revised)
        in the month before the first instant of `day` (a date): those the review on `day`
        should look at."""
        since = timezone.make_aware(datetime.datetime.combine(day - STALE_AFTER, datetime.time()))
        recent_evidence = QuestionLink.objects.filter(
            question=OuterRef("pk"), created_at__gte=since
        )
        recent_revision = ConclusionRevision.objects.filter(
            question=OuterRef("pk"), created_at__gte=since
        )
        return (
            self.open()
            .filter(updated_at__lt=since)
            .exclude(Exists(recent_evidence))
            .exclude(Exists(recent_revision))
        )

    def with_evidence_count(self):
        return self.annotate(evidence_count=models.Count("evidence"))

    def with_last_activity(self):
        """Each question annotated with `last_activity`: its latest edit, evidence or revision."""
        latest_evidence = (
            QuestionLink.objects.filter(question=OuterRef("pk"))
            .order_by("-created_at")
            .values("created_at")[:1]
        )
        latest_revision = (
            ConclusionRevision.objects.filter(question=OuterRef("pk"))
            .order_by("-created_at")
            .values("created_at")[:1]
        )
        # Coalesce each: GREATEST is NULL on SQLite as soon as one argument is.
        updated = models.F("updated_at")
        return self.annotate(
            last_activity=models.functions.Greatest(
                updated,
                models.functions.Coalesce(models.Subquery(latest_evidence), updated),
                models.functions.Coalesce(models.Subquery(latest_revision), updated),
            )
        )


class ResearchQuestion(models.Model):
    """A question the team wants answered with evidence: papers, experiments, techniques."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PARTLY_ANSWERED = "partly_answered", "Partly answered"
        ANSWERED = "answered", "Answered"

    question = models.CharField(max_length=300)
    status = models.CharField(max_length=20, choices=Status, default=Status.OPEN)
    conclusion = models.TextField(blank=True)
    what_would_resolve = models.TextField(
        "what would resolve this",
        blank=True,
        help_text="The information the team lacks: the result, paper or number that would "
        "settle the question. Markdown.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="research_questions",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ResearchQuestionQuerySet.as_manager()

    class Meta:
        ordering = ["status", "-updated_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["open", "partly_answered", "answered"]),
                name="papers_question_status_valid",
            )
        ]

    def __str__(self):
        return self.question

    def get_absolute_url(self):
        return reverse("papers:question_detail", args=[self.pk])

    def clean(self):
        """An answered question has a conclusion and at least one piece of supporting evidence."""
        if self.status != self.Status.ANSWERED:
            return
        if not self.conclusion.strip():
            raise ValidationError({"conclusion": ANSWERED_NEEDS_CONCLUSION})
        if (
            self.pk is None
            or not self.evidence.filter(stance=QuestionLink.Stance.SUPPORTS).exists()
        ):
            raise ValidationError({"status": ANSWERED_NEEDS_SUPPORT})

    @transaction.atomic
    def revise_conclusion(self, text, *, by, status=None):
        """Change the conclusion (and optionally the status), keeping the new text as history.

        Raises ValidationError when the result would be an answer without a conclusion or
        without supporting evidence. Returns the new ConclusionRevision, or None when nothing
        changed.
        """
        text = text.strip()
        status_changed = status is not None and status != self.status
        if text == self.conclusion and not status_changed:
            return None
        self.conclusion = text
        if status is not None:
            self.status = status
        self.full_clean()
        self.save()
        return self.record_revision(by=by)

    def conclusion_history(self):
        """The revisions, newest first, each with `changes`: its text against the revision
        before it, word by word, as (kind, words) with kind "same", "added" or "removed"."""
        revisions = list(self.revisions.select_related("author"))
        for index, revision in enumerate(revisions):
            previous = revisions[index + 1].text if index + 1 < len(revisions) else ""
            revision.changes = _word_changes(previous, revision.text)
        return revisions

    def record_revision(self, *, by):
        """Keep the current conclusion and status as a revision (after a change saved)."""
        return self.revisions.create(text=self.conclusion, status=self.status, author=by)

    def add_evidence(self, target, *, stance, rationale, quote="", by=None):
        """Cite `target` (a Paper, a Passage, an Experiment, a Run or a Technique) as evidence,
        or update the stance, rationale and quote of the evidence already citing it.

        A passage is cited through its paper: a question cites a paper once, at the passage
        that matters. Raises ValidationError (a missing rationale, a change that would leave
        an answered question without support).
        """
        from experiments.models import Experiment, Run
        from radar.models import Technique

        fields = {
            Paper: "paper",
            Passage: "paper",
            Experiment: "experiment",
            Run: "run",
            Technique: "technique",
        }
        if type(target) not in fields:
            raise TypeError(f"Evidence cannot cite a {type(target).__name__}.")
        passage = target if isinstance(target, Passage) else None
        field = fields[type(target)]
        target_row = target.paper if passage else target
        evidence = self.evidence.filter(**{field: target_row}).first() or QuestionLink(
            question=self, **{field: target_row}
        )
        was_support = evidence.pk is not None and evidence.stance == QuestionLink.Stance.SUPPORTS
        if passage or (field == "paper" and evidence.pk is None):
            evidence.passage = passage
        evidence.stance, evidence.rationale, evidence.quote = (
            stance,
            rationale.strip(),
            quote.strip(),
        )
        if evidence.added_by_id is None:
            evidence.added_by = by
        evidence.full_clean()
        if was_support and evidence.stance != QuestionLink.Stance.SUPPORTS:
            self._check_support_remains(without=evidence)
        try:
            with transaction.atomic():
                evidence.save()
        except IntegrityError as error:
            # Someone cited the same thing a moment ago: full_clean could not see it yet.
            raise ValidationError("This is already cited: reload and edit it.") from error
        return evidence

    def link_paper(self, paper, *, stance, rationale, quote="", by=None):
        """Cite `paper` (or a Passage of it) as evidence: add_evidence for a paper."""
        return self.add_evidence(paper, stance=stance, rationale=rationale, quote=quote, by=by)

    @transaction.atomic
    def remove_evidence(self, evidence):
        """Delete one piece of this question's evidence, unless an answer rests on it alone."""
        if evidence.question_id != self.pk:
            raise ValueError("That evidence belongs to another question.")
        if evidence.stance == QuestionLink.Stance.SUPPORTS:
            self._check_support_remains(without=evidence)
        evidence.delete()

    def _check_support_remains(self, *, without):
        if self.status != self.Status.ANSWERED:
            return
        others = self.evidence.filter(stance=QuestionLink.Stance.SUPPORTS).exclude(pk=without.pk)
        if not others.exists():
            raise ValidationError(LAST_SUPPORT)

    def evidence_map(self):
        """The evidence grouped by stance, then by kind, with counts: a list of
        {"stance", "label", "count", "kinds": [{"kind", "label", "count", "items"}]}, every
        stance and kind present even when empty, so that a gap shows."""
        items = list(
            self.evidence.select_related(
                "paper", "passage", "experiment", "run__experiment", "technique", "added_by"
            )
        )
        groups = []
        for stance in QuestionLink.Stance:
            of_stance = [item for item in items if item.stance == stance]
            kinds = []
            for kind in QuestionLink.Kind:
                of_kind = [item for item in of_stance if item.kind == kind]
                kinds.append(
                    {
                        "kind": kind.value,
                        "label": kind.label,
                        "count": len(of_kind),
                        "items": of_kind,
                    }
                )
            groups.append(
                {
                    "stance": stance.value,
                    "label": stance.label,
                    "count": len(of_stance),
                    "kinds": kinds,
                }
            )
        return groups


def _word_changes(old, new):
    old_words, new_words = old.split(), new.split()
    changes = []
    matcher = difflib.SequenceMatcher(a=old_words, b=new_words, autojunk=False)
    for tag, old_start, old_end, new_start, new_end in matcher.get_opcodes():
        if tag == "equal":
            changes.append(("same", " ".join(new_words[new_start:new_end])))
            continue
        if old_end > old_start:
            changes.append(("removed", " ".join(old_words[old_start:old_end])))
        if new_end > new_start:
            changes.append(("added", " ".join(new_words[new_start:new_end])))
    return changes


class ConclusionRevision(models.Model):
    """One saved version of a question's conclusion: the history of how it was reached."""

    question = models.ForeignKey(
        ResearchQuestion, on_delete=models.CASCADE, related_name="revisions"
    )
    text = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=ResearchQuestion.Status)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.question} @ {self.created_at:%Y-%m-%d %H:%M}"


TARGETS = ("paper", "experiment", "run", "technique")


def _exactly_one_target():
    """Q: exactly one of the target columns is set."""
    cases = Q()
    for target in TARGETS:
        case = Q(**{f"{target}__isnull": False})
        for other in TARGETS:
            if other != target:
                case &= Q(**{f"{other}__isnull": True})
        cases |= case
    return cases


class QuestionLink(models.Model):
    """One piece of evidence for a question: a paper (at a passage, optionally), an experiment,
    a run or a radar technique; whether it supports the answer, contradicts it or is context;
    and why."""

    class Stance(models.TextChoices):
        SUPPORTS = "supports", "Supports"
        CONTRADICTS = "contradicts", "Contradicts"
        CONTEXT = "context", "Context"

    class Kind(models.TextChoices):
        PAPER = "paper", "Papers and passages"
        EXPERIMENT = "experiment", "Experiments and runs"
        TECHNIQUE = "technique", "Techniques"

    question = models.ForeignKey(
        ResearchQuestion, on_delete=models.CASCADE, related_name="evidence"
    )
    paper = models.ForeignKey(
        Paper, null=True, blank=True, on_delete=models.CASCADE, related_name="question_links"
    )
    # Re-extracting a PDF may replace its passages: the evidence stays, on the paper, quote kept.
    passage = models.ForeignKey(
        Passage, null=True, blank=True, on_delete=models.SET_NULL, related_name="question_links"
    )
    experiment = models.ForeignKey(
        "experiments.Experiment",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="question_links",
    )
    run = models.ForeignKey(
        "experiments.Run",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="question_links",
    )
    technique = models.ForeignKey(
        "radar.Technique",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="question_links",
    )
    stance = models.CharField(max_length=20, choices=Stance)
    rationale = models.TextField(help_text="Why this supports, contradicts or frames the answer")
    quote = models.TextField(blank=True, help_text="The words that matter, quoted")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["stance", "-created_at"]
        verbose_name = "evidence"
        verbose_name_plural = "evidence"
        constraints = [
            models.CheckConstraint(
                condition=_exactly_one_target(), name="papers_evidence_exactly_one_target"
            ),
            models.CheckConstraint(
                condition=Q(passage__isnull=True) | Q(paper__isnull=False),
                name="papers_evidence_passage_of_its_paper",
            ),
            models.CheckConstraint(
                condition=Q(stance__in=["supports", "contradicts", "context"]),
                name="papers_evidence_stance_valid",
            ),
            models.CheckConstraint(
                condition=~Q(rationale=""), name="papers_evidence_has_rationale"
            ),
            *(
                models.UniqueConstraint(
                    fields=["question", target], name=f"papers_evidence_unique_{target}"
                )
                for target in TARGETS
            ),
        ]

    def __str__(self):
        return f"{self.target} {self.stance} {self.question}"

    @property
    def target(self):
        """What the evidence cites: its Paper, Experiment, Run or Technique."""
        return self.paper or self.experiment or self.run or self.technique

    @property
    def kind(self):
        if self.paper_id:
            return self.Kind.PAPER
        if self.experiment_id or self.run_id:
            return self.Kind.EXPERIMENT
        return self.Kind.TECHNIQUE

    def clean(self):
        targets = [target for target in TARGETS if getattr(self, f"{target}_id")]
        if len(targets) != 1:
            raise ValidationError(
                "Evidence cites exactly one thing: a paper, an experiment, a run or a technique."
            )
        if self.passage_id and self.passage.paper_id != self.paper_id:
            raise ValidationError({"passage": PASSAGE_OF_ANOTHER_PAPER})
