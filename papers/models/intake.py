"""Intake that comes to the team: watches polled in the background fill a triage inbox.

A Watch is an arXiv API query (`cat:cs.LG AND abs:"speculative decoding"`) or a saved search of
the library. Each poll adds a TriageItem for every match that is new: for arXiv, one that is not
in the library (dedupe's rules) and not in the inbox already; for a saved search, a paper added
to the library since the watch last looked. A person then gives each item its first pass in one
click: skip, read later (their reading queue) or read now.

An arXiv match stays a TriageItem, with the metadata the API gave, until someone triages it read
later or read now; only then does it become a Paper. A daily scan brings dozens of titles of
which most are skipped: were each a Paper at once, the library (its search, its embeddings, its
dedupe candidates, its exports) would fill with papers nobody chose to read.
"""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from .paper import Paper, ReadingState


class WatchQuerySet(models.QuerySet):
    def active(self):
        return self.filter(active=True)

    def due(self, now=None):
        """Active watches not polled within Watch.POLL_EVERY."""
        now = now or timezone.now()
        return self.active().filter(
            Q(last_polled_at__isnull=True) | Q(last_polled_at__lte=now - Watch.POLL_EVERY)
        )


class Watch(models.Model):
    class Kind(models.TextChoices):
        ARXIV = "arxiv", "arXiv query"
        LIBRARY = "library", "Saved library search"

    # arXiv announces new papers once a day; four polls a day find them within hours and cost
    # arXiv four requests per watch.
    POLL_EVERY = timedelta(hours=6)
    # A saved search looks this far behind its last poll: a paper's keyword document is written
    # just after its commit, so one added during the previous poll is still found.
    LIBRARY_OVERLAP = timedelta(days=1)

    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=10, choices=Kind, default=Kind.ARXIV)
    query = models.CharField(
        max_length=1000,
        help_text='arXiv: the API\'s search_query, e.g. cat:cs.LG AND abs:"speculative decoding". '
        "Library: words as typed in Assay's search.",
    )
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="watches"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)

    objects = WatchQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"

    def get_absolute_url(self):
        return reverse("papers:watch_detail", args=[self.pk])

    def record_poll(self, *, error=""):
        """Note when this watch was polled, and the error of that poll ("" clears the last)."""
        now = timezone.now()
        self.last_polled_at = now
        fields = ["last_polled_at"]
        if error:
            self.last_error, self.last_error_at = error, now
            fields += ["last_error", "last_error_at"]
        elif self.last_error:
            self.last_error, self.last_error_at = "", None
            fields += ["last_error", "last_error_at"]
        self.save(update_fields=fields)

    def library_since(self):
        """Papers added after this moment are new to a saved-search watch."""
        if self.last_polled_at is None:
            return self.created_at
        return max(self.created_at, self.last_polled_at - self.LIBRARY_OVERLAP)

    def add_arxiv_match(self, record):
        """A TriageItem for an arXiv PaperRecord, or None when it is not new.

        Not new: dedupe finds it in the library, or some watch already put it in the inbox
        (whatever became of it there: a skipped paper does not come back).
        """
        from papers import dedupe
        from papers.importers.base import RecordRejected

        try:
            candidate = record.to_paper()
        except RecordRejected:
            return None
        if not candidate.arxiv_id or dedupe.find_matches(candidate):
            return None
        if TriageItem.objects.filter(arxiv_id=candidate.arxiv_id).exists():
            return None
        return TriageItem.create_once(
            watch=self,
            arxiv_id=candidate.arxiv_id,
            title=candidate.title,
            authors=candidate.authors,
            year=candidate.year,
            venue=candidate.venue,
            abstract=candidate.abstract,
            doi=candidate.doi,
            url=candidate.url,
            entry_type=candidate.entry_type,
            categories=record.tags,
        )

    def add_library_match(self, paper):
        """A TriageItem for a library paper this saved search found, or None when known."""
        if TriageItem.objects.filter(paper=paper).exists():
            return None
        return TriageItem.create_once(watch=self, paper=paper, title=paper.title)


class TriageItemQuerySet(models.QuerySet):
    def untriaged(self):
        return self.filter(status=TriageItem.Status.NEW)


class TriageItem(models.Model):
    """One new match waiting for (or given) its first pass."""

    class Status(models.TextChoices):
        NEW = "new", "To triage"
        SKIPPED = "skipped", "Skipped"
        READ_LATER = "read_later", "Read later"
        READ_NOW = "read_now", "Read now"

    watch = models.ForeignKey(Watch, on_delete=models.CASCADE, related_name="items")
    status = models.CharField(max_length=12, choices=Status, default=Status.NEW)
    # A library match has its paper from the start; an arXiv match gets one when triaged to
    # read (until then its metadata is kept here).
    paper = models.ForeignKey(
        Paper, null=True, blank=True, on_delete=models.CASCADE, related_name="triage_items"
    )
    arxiv_id = models.CharField("arXiv id", max_length=50, blank=True)
    title = models.TextField()
    authors = models.JSONField(default=list, blank=True)
    year = models.PositiveIntegerField(null=True, blank=True)
    venue = models.CharField(max_length=500, blank=True)
    abstract = models.TextField(blank=True)
    doi = models.CharField("DOI", max_length=255, blank=True)
    url = models.URLField("URL", max_length=1000, blank=True)
    entry_type = models.CharField(
        max_length=20, choices=Paper.EntryType, default=Paper.EntryType.PREPRINT
    )
    categories = models.JSONField(default=list, blank=True)
    found_at = models.DateTimeField(auto_now_add=True)
    triaged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    triaged_at = models.DateTimeField(null=True, blank=True)

    objects = TriageItemQuerySet.as_manager()

    class Meta:
        ordering = ["-found_at", "-pk"]
        constraints = [
            # One inbox item per arXiv paper and per library paper, however many watches match
            # it and however often they are polled.
            models.UniqueConstraint(
                fields=["arxiv_id"], condition=~Q(arxiv_id=""), name="papers_triage_arxiv_unique"
            ),
            models.UniqueConstraint(
                fields=["paper"],
                condition=Q(arxiv_id="", paper__isnull=False),
                name="papers_triage_library_paper_unique",
            ),
        ]

    def __str__(self):
        return f"{self.title} ({self.get_status_display()})"

    @property
    def authors_display(self):
        if len(self.authors) > 4:
            return f"{', '.join(self.authors[:3])} et al."
        return ", ".join(self.authors)

    @classmethod
    def create_once(cls, **fields):
        """Create the item, or None when a concurrent poll created it first."""
        try:
            with transaction.atomic():
                return cls.objects.create(**fields)
        except IntegrityError:
            return None

    @transaction.atomic
    def triage(self, status, *, by):
        """Give this item its first pass; returns the paper for read later / read now.

        Read later puts the paper on `by`'s reading queue (To read), read now at pass 1; an
        arXiv match becomes a Paper here, through the importer's dedupe, so a paper imported
        meanwhile is reused rather than added twice. Triaging again changes the decision.
        """
        if status not in {self.Status.SKIPPED, self.Status.READ_LATER, self.Status.READ_NOW}:
            raise ValueError(f"{status!r} is not a triage decision")
        self.status, self.triaged_by, self.triaged_at = status, by, timezone.now()
        if status != self.Status.SKIPPED:
            paper = self.paper or self._save_paper()
            self.paper = paper
            state = (
                ReadingState.State.PASS_1
                if status == self.Status.READ_NOW
                else ReadingState.State.TO_READ
            )
            existing = ReadingState.objects.filter(user=by, paper=paper).first()
            # A reader already further along keeps their place.
            if existing is None or ReadingState(state=state).is_further_than(existing):
                ReadingState.record(user=by, paper=paper, state=state)
        self.save()
        return self.paper

    def _save_paper(self):
        from papers.importers import PaperRecord, RecordOutcome
        from papers.importers.base import save_record

        record = PaperRecord(
            line=None,
            label=self.arxiv_id,
            title=self.title,
            authors=self.authors,
            year=self.year,
            venue=self.venue,
            abstract=self.abstract,
            arxiv_id=self.arxiv_id,
            doi=self.doi,
            url=self.url,
            entry_type=self.entry_type,
            tags=self.categories,
        )
        # Never merges two saved papers: that would delete one, which triage must not do.
        outcome = save_record(record, may_merge_papers=False)
        if outcome.status == RecordOutcome.REJECTED:
            raise ValidationError(f"Cannot add {self.title!r} to the library: {outcome.detail}.")
        return Paper.objects.get(pk=outcome.paper_id)
