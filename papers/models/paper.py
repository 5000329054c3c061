from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Count, Q
from django.db.models.functions import Lower
from django.urls import reverse

from papers.identifiers import (
    TITLE_KEY_LENGTH,
    arxiv_id_from_doi,
    clean_title,
    normalise_title,
    split_identifiers,
    surname,
)

# arXiv preprints usually come out as a conference or journal paper within a year or two; a
# preprint matched by title to a published version may be this much older than it.
PREPRINT_PUBLICATION_LAG_YEARS = 3


class Tag(models.Model):
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(Lower("name"), name="papers_tag_name_ci_unique")]

    def __str__(self):
        return self.name

    @classmethod
    def for_names(cls, names):
        """Tags for `names` (case-insensitive, blanks ignored), created where missing."""
        tags = []
        for name in dict.fromkeys(n.strip()[:100] for n in names if n and n.strip()):
            tag = cls.objects.filter(name__iexact=name).first() or cls.objects.create(name=name)
            tags.append(tag)
        return tags


class PaperQuerySet(models.QuerySet):
    def in_year(self, year):
        return self.filter(year=year)

    def tagged(self, tag_name):
        return self.filter(tags__name__iexact=tag_name)

    def about_technique(self, technique_id):
        return self.filter(techniques__pk=technique_id)

    def with_title_key(self, title_key):
        return self.filter(title_key=title_key)

    def duplicate_title_keys(self):
        """Title keys shared by more than one paper (candidates for dedupe by title)."""
        return (
            self.exclude(title_key="")
            .values("title_key")
            .annotate(count=Count("pk"))
            .filter(count__gt=1)
            .values_list("title_key", flat=True)
        )


class Paper(models.Model):
    """A paper, known by at most one arXiv id and one DOI (both normalised on save)."""

    class EntryType(models.TextChoices):
        ARTICLE = "article", "Journal article"
        INPROCEEDINGS = "inproceedings", "Conference paper"
        PREPRINT = "preprint", "Preprint"
        BOOK = "book", "Book"
        CHAPTER = "incollection", "Book chapter"
        THESIS = "thesis", "Thesis"
        REPORT = "report", "Report"
        MISC = "misc", "Other"

    # Fields a merge or a duplicate import record may fill in on an existing paper.
    FILLABLE_FIELDS = ("arxiv_id", "doi", "venue", "abstract", "url", "bibtex_key", "year")

    title = models.TextField()
    authors = models.JSONField(default=list, blank=True, help_text='"Given Family" strings')
    year = models.PositiveIntegerField(null=True, blank=True)
    venue = models.CharField(max_length=500, blank=True)
    abstract = models.TextField(blank=True)
    arxiv_id = models.CharField(
        "arXiv id", max_length=50, blank=True, db_index=True, help_text="Without version"
    )
    doi = models.CharField("DOI", max_length=255, blank=True, db_index=True)
    url = models.URLField("URL", max_length=1000, blank=True)
    bibtex_key = models.CharField("BibTeX key", max_length=200, blank=True)
    entry_type = models.CharField(max_length=20, choices=EntryType, default=EntryType.MISC)
    # The title as dedupe compares it; kept in a column so matching is one indexed lookup.
    title_key = models.CharField(
        max_length=TITLE_KEY_LENGTH, blank=True, db_index=True, editable=False
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="papers")
    techniques = models.ManyToManyField("radar.Technique", blank=True, related_name="papers")
    experiments = models.ManyToManyField(
        "experiments.Experiment", blank=True, related_name="papers"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = PaperQuerySet.as_manager()

    class Meta:
        ordering = ["-year", "title"]
        constraints = [
            models.UniqueConstraint(
                fields=["arxiv_id"], condition=~Q(arxiv_id=""), name="papers_paper_arxiv_unique"
            ),
            models.UniqueConstraint(
                fields=["doi"], condition=~Q(doi=""), name="papers_paper_doi_unique"
            ),
        ]

    def __str__(self):
        return self.title

    def save(self, *args, **kwargs):
        self.normalise()
        super().save(*args, **kwargs)

    def get_absolute_url(self):
        return reverse("papers:paper_detail", args=[self.pk])

    def normalise(self):
        """Put identifiers and title in the forms stored and compared by dedupe.

        save() calls it; the importers and the paper form call it on an unsaved candidate so
        that dedupe compares what would be stored.
        """
        doi, arxiv_id = split_identifiers(self.doi, self.arxiv_id)
        # A value that is no identifier stays as typed (clean() reports it) instead of vanishing.
        if doi or not self.doi or arxiv_id_from_doi(self.doi):
            self.doi = doi
        if arxiv_id or not self.arxiv_id:
            self.arxiv_id = arxiv_id
        self.title = clean_title(self.title)
        self.title_key = normalise_title(self.title)

    def clean(self):
        errors = {}
        if not normalise_title(self.title):
            errors["title"] = "A paper needs a title."
        if self.year is not None and not 1000 <= self.year <= 2100:
            errors["year"] = f"{self.year} is not a plausible publication year."
        if not isinstance(self.authors, list) or not all(isinstance(a, str) for a in self.authors):
            errors["authors"] = "Authors must be a list of names."
        doi, arxiv_id = split_identifiers(self.doi, self.arxiv_id)
        if self.doi and not doi and not arxiv_id:
            errors["doi"] = f"{self.doi!r} is not a DOI (expected 10.NNNN/...)."
        if self.arxiv_id and not arxiv_id:
            errors["arxiv_id"] = f"{self.arxiv_id!r} is not an arXiv id (e.g. 1506.02640)."
        if errors:
            raise ValidationError(errors)

    @property
    def surnames(self):
        return {s for s in (surname(a) for a in self.authors) if s}

    @property
    def is_preprint(self):
        return bool(self.arxiv_id) and not self.doi

    @property
    def authors_display(self):
        if len(self.authors) > 4:
            return f"{', '.join(self.authors[:3])} et al."
        return ", ".join(self.authors)

    def red_flag_summary(self):
        """For each red flag some reader raised: (label, how many readers, their comments)."""
        from .notes import PaperNote

        summary = []
        notes = list(self.notes.all())
        for field, label, _help in PaperNote.RED_FLAGS:
            raised = [n for n in notes if getattr(n, f"flag_{field}")]
            if raised:
                comments = [c for c in (getattr(n, f"flag_{field}_comment") for n in raised) if c]
                summary.append((label, len(raised), comments))
        return summary

    @transaction.atomic
    def merge_into(self, keep):
        """Fold this paper into `keep` and delete it; returns `keep`.

        `keep` gains whichever identifiers and fields it lacks (so a preprint and its published
        version end with both the arXiv id and the DOI), and every tag, technique, experiment,
        note, reading state and question link moves over. Where a reader has a note or state on
        both, the one on `keep` stays, filled in from the other.
        """
        if keep.pk == self.pk:
            raise ValueError("A paper cannot be merged into itself.")
        keep.tags.add(*self.tags.all())
        keep.techniques.add(*self.techniques.all())
        keep.experiments.add(*self.experiments.all())
        for note in self.notes.all():
            existing = keep.notes.filter(author=note.author_id).first()
            if existing is None:
                note.paper = keep
                note.save(update_fields=["paper"])
            else:
                existing.fill_blanks_from(note)
        for state in self.reading_states.all():
            existing = keep.reading_states.filter(user=state.user_id).first()
            if existing is None:
                state.paper = keep
                state.save(update_fields=["paper"])
            elif state.is_further_than(existing):
                existing.state, existing.dropped_reason = state.state, state.dropped_reason
                existing.save(update_fields=["state", "dropped_reason", "updated_at"])
        passages_moved = self._move_pdf_to(keep)
        for link in self.question_links.all():
            existing = keep.question_links.filter(question=link.question_id).first()
            if existing is None:
                link.paper = keep
                if not passages_moved:
                    # This paper's passages are deleted with it; the quote keeps the words.
                    link.passage = None
                link.save(update_fields=["paper", "passage"])
            elif not existing.quote and link.quote:
                existing.quote = link.quote
                existing.save(update_fields=["quote"])
        fill = self.fields_missing_from(keep)
        # The identifiers move to `keep`, so this row goes first: the unique constraints hold.
        self.delete()
        for field, value in fill.items():
            setattr(keep, field, value)
        keep.save()
        return keep

    def _move_pdf_to(self, keep):
        # A PDF and its text go over when `keep` has none; else `keep`'s own stays.
        from .pdf import PaperPdf

        if PaperPdf.objects.filter(paper=keep).exists() or keep.passages.exists():
            return False
        PaperPdf.objects.filter(paper=self).update(paper=keep)
        return self.passages.update(paper=keep) > 0

    def fields_missing_from(self, other):
        """{field: value} for the fields `other` has blank and this paper has filled."""
        missing = {}
        for field in self.FILLABLE_FIELDS:
            value = getattr(self, field)
            if value and not getattr(other, field):
                missing[field] = value
        if self.authors and not other.authors:
            missing["authors"] = self.authors
        # A preprint merged with its published version is cited by the publication year.
        if other.is_preprint and self.doi and self.year and self.year != other.year:
            missing["year"] = self.year
        # A published version's type says more than "preprint" or "other".
        weak_types = {self.EntryType.PREPRINT, self.EntryType.MISC}
        if other.entry_type in weak_types and self.entry_type not in weak_types:
            missing["entry_type"] = self.entry_type
        return missing


class ReadingStateQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(user=user)

    def queued(self):
        """Papers still to read or being read."""
        return self.exclude(state__in=[ReadingState.State.PASS_3, ReadingState.State.DROPPED])


class ReadingState(models.Model):
    """Where one reader stands with one paper (the three-pass method)."""

    class State(models.TextChoices):
        TO_READ = "to_read", "To read"
        PASS_1 = "pass_1", "Pass 1"
        PASS_2 = "pass_2", "Pass 2"
        PASS_3 = "pass_3", "Pass 3"
        DROPPED = "dropped", "Dropped"

    ORDER = [State.TO_READ, State.PASS_1, State.PASS_2, State.PASS_3, State.DROPPED]

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reading_states"
    )
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="reading_states")
    state = models.CharField(max_length=10, choices=State, default=State.TO_READ)
    dropped_reason = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ReadingStateQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at"]
        constraints = [
            models.UniqueConstraint(fields=["user", "paper"], name="papers_reading_state_unique"),
            models.CheckConstraint(
                condition=~Q(state="dropped") | ~Q(dropped_reason=""),
                name="papers_reading_state_dropped_has_reason",
            ),
        ]

    def __str__(self):
        return f"{self.user} · {self.paper}: {self.get_state_display()}"

    def clean(self):
        if self.state == self.State.DROPPED and not self.dropped_reason.strip():
            raise ValidationError({"dropped_reason": "Say why you dropped the paper."})

    def is_further_than(self, other):
        return self.ORDER.index(self.state) > self.ORDER.index(other.state)

    @classmethod
    def record(cls, *, user, paper, state, dropped_reason=""):
        """Set `user`'s state for `paper`, validating it; returns the saved row."""
        reading = cls.objects.filter(user=user, paper=paper).first() or cls(user=user, paper=paper)
        reading.state = state
        reading.dropped_reason = dropped_reason.strip() if state == cls.State.DROPPED else ""
        reading.full_clean(exclude=["user", "paper"])
        reading.save()
        return reading
