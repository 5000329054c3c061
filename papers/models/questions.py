from django.conf import settings
from django.db import models, transaction
from django.urls import reverse

from .paper import Paper


class ResearchQuestionQuerySet(models.QuerySet):
    def open(self):
        return self.exclude(status=ResearchQuestion.Status.ANSWERED)


class ResearchQuestion(models.Model):
    """A question the team wants answered with evidence from papers."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PARTLY_ANSWERED = "partly_answered", "Partly answered"
        ANSWERED = "answered", "Answered"

    question = models.CharField(max_length=300)
    status = models.CharField(max_length=20, choices=Status, default=Status.OPEN)
    conclusion = models.TextField(blank=True)
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

    def __str__(self):
        return self.question

    def get_absolute_url(self):
        return reverse("papers:question_detail", args=[self.pk])

    @transaction.atomic
    def revise_conclusion(self, text, *, by, status=None):
        """Change the conclusion (and optionally the status), keeping the new text as history.

        Returns the new ConclusionRevision, or None when nothing changed.
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
        return self.revisions.create(text=text, status=self.status, author=by)

    def link_paper(self, paper, *, stance, passage="", by=None):
        """Link `paper` as evidence, or update the stance and passage of an existing link."""
        link = self.links.filter(paper=paper).first() or QuestionLink(question=self, paper=paper)
        link.stance, link.passage = stance, passage.strip()
        if link.added_by_id is None:
            link.added_by = by
        link.full_clean()
        link.save()
        return link


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


class QuestionLink(models.Model):
    """A paper as evidence for a question, with its stance and the passage that matters."""

    class Stance(models.TextChoices):
        SUPPORTS = "supports", "Supports"
        CONTRADICTS = "contradicts", "Contradicts"
        BACKGROUND = "background", "Background"

    question = models.ForeignKey(ResearchQuestion, on_delete=models.CASCADE, related_name="links")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="question_links")
    stance = models.CharField(max_length=20, choices=Stance)
    passage = models.TextField(blank=True, help_text="The passage that matters, quoted")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["stance", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["question", "paper"], name="papers_question_link_unique"
            )
        ]

    def __str__(self):
        return f"{self.paper} {self.stance} {self.question}"
