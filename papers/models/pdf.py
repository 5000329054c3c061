import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone

from .passages import Passage

# A claim older than this belongs to a worker that died: the extraction or fetch may start over.
STALE_CLAIM_MARGIN = timedelta(minutes=5)


def pdf_file_name(instance, filename):
    # Named by paper and content, never by what the uploader called it.
    return f"papers/pdf/{instance.paper_id}/{instance.sha256[:16] or 'file'}.pdf"


class PaperPdfQuerySet(models.QuerySet):
    def claimable_for_extraction(self):
        """Rows queued for extraction, or extracting under a claim gone stale (a dead worker)."""
        stale = timezone.now() - claim_timeout(PaperPdf.State.EXTRACTING)
        return self.filter(
            models.Q(state=PaperPdf.State.QUEUED)
            | models.Q(state=PaperPdf.State.EXTRACTING, claimed_at__lt=stale)
        )

    def claimable_for_fetch(self):
        stale = timezone.now() - claim_timeout(PaperPdf.State.FETCHING)
        return self.filter(state=PaperPdf.State.FETCHING).filter(
            models.Q(claimed_at__isnull=True) | models.Q(claimed_at__lt=stale)
        )


def claim_timeout(state):
    seconds = (
        settings.ASSAY_PDF_FETCH_TIMEOUT_SECONDS
        if state == PaperPdf.State.FETCHING
        else 2 * settings.ASSAY_PDF_EXTRACT_SECONDS
    )
    return timedelta(seconds=seconds) + STALE_CLAIM_MARGIN


class PaperPdf(models.Model):
    """A paper's PDF and where its text extraction stands.

    The file lives in Django's default storage (the data folder, or S3); the text, once
    extracted by a worker (papers.tasks.extract_pdf), is the paper's passages. A PDF that
    cannot be read is kept with the reason, which the paper page shows.
    """

    class State(models.TextChoices):
        FETCHING = "fetching", "Fetching"
        QUEUED = "queued", "Queued"
        EXTRACTING = "extracting", "Extracting"
        EXTRACTED = "extracted", "Extracted"
        NO_TEXT = "no_text", "No text"
        REFUSED = "refused", "Refused"

    class Source(models.TextChoices):
        UPLOAD = "upload", "Uploaded"
        ARXIV = "arxiv", "arXiv"
        URL = "url", "URL"

    BUSY_STATES = (State.FETCHING, State.QUEUED, State.EXTRACTING)

    paper = models.OneToOneField("papers.Paper", on_delete=models.CASCADE, related_name="pdf")
    file = models.FileField(upload_to=pdf_file_name, max_length=300, blank=True)
    source = models.CharField(max_length=10, choices=Source, default=Source.UPLOAD)
    source_url = models.URLField("source URL", max_length=1000, blank=True)
    size = models.PositiveBigIntegerField(default=0, help_text="bytes")
    sha256 = models.CharField(max_length=64, blank=True)
    state = models.CharField(max_length=12, choices=State, default=State.QUEUED)
    reason = models.TextField(blank=True, help_text="why there is no text, or what was skipped")
    page_count = models.PositiveIntegerField(null=True, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)
    # When a worker took the fetch or extraction in hand (None: nobody has yet).
    claimed_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = PaperPdfQuerySet.as_manager()

    class Meta:
        verbose_name = "paper PDF"

    def __str__(self):
        return f"PDF of {self.paper_id} ({self.state})"

    @property
    def is_busy(self):
        return self.state in self.BUSY_STATES

    @property
    def is_stuck(self):
        """Busy for longer than any live worker would take: it may be asked again."""
        return (
            self.is_busy
            and self.claimed_at is not None
            and self.claimed_at < timezone.now() - claim_timeout(self.state)
        )

    @property
    def has_file(self):
        return bool(self.file.name)

    # --- the web process: attach and queue; it never parses a PDF ---

    @classmethod
    @transaction.atomic
    def attach_upload(cls, *, paper, upload, by):
        """Store `upload` (checked for size and magic bytes by the form) as the paper's PDF,
        replacing any earlier one, and queue its text extraction."""
        pdf = cls._for_update(paper)
        digest = hashlib.sha256()
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.seek(0)
        pdf._replace_file(upload, digest.hexdigest(), upload.size)
        pdf.source, pdf.source_url, pdf.added_by = cls.Source.UPLOAD, "", by
        pdf._queue_extraction()
        return pdf

    @classmethod
    @transaction.atomic
    def request_fetch(cls, *, paper, url, source, by):
        """Queue a download of the paper's PDF from `url` (then its extraction)."""
        from core.tasks import enqueue
        from papers.tasks import fetch_pdf

        pdf = cls._for_update(paper)
        pdf.source, pdf.source_url, pdf.added_by = source, url, by
        pdf.added_at = timezone.now()
        pdf._set_state(cls.State.FETCHING)
        pdf.save()
        enqueue(fetch_pdf, pdf.pk)
        return pdf

    @transaction.atomic
    def request_extraction(self):
        """Extract the text again (after a limit was raised, or a worker died)."""
        self._queue_extraction()

    @classmethod
    def _for_update(cls, paper):
        pdf = cls.objects.select_for_update().filter(paper=paper).first()
        return pdf or cls(paper=paper)

    def _set_state(self, state, reason=""):
        self.state, self.reason, self.claimed_at = state, reason, None
        if state in self.BUSY_STATES:
            self.finished_at = None
        else:
            self.finished_at = timezone.now()

    def _replace_file(self, content, sha256, size):
        old_name = self.file.name
        self.sha256, self.size, self.page_count = sha256, size, None
        self.added_at = timezone.now()
        self.file.save("upload.pdf", content, save=False)
        if old_name and old_name != self.file.name:
            storage = self.file.storage
            transaction.on_commit(lambda: storage.delete(old_name))

    def _queue_extraction(self):
        from core.tasks import enqueue
        from papers.tasks import extract_pdf

        self._set_state(self.State.QUEUED)
        self.save()
        enqueue(extract_pdf, self.pk)

    # --- the worker ---

    @classmethod
    def claim_extraction(cls, pk):
        """The row `pk` marked extracting by this worker, or None if it is not to be done."""
        return cls._claim(pk, cls.objects.claimable_for_extraction(), cls.State.EXTRACTING)

    @classmethod
    def claim_fetch(cls, pk):
        """The row `pk` claimed for its download by this worker, or None."""
        return cls._claim(pk, cls.objects.claimable_for_fetch(), cls.State.FETCHING)

    @classmethod
    def _claim(cls, pk, claimable, state):
        # A conditional update: of two workers given the same row, exactly one gets it.
        now = timezone.now()
        if not claimable.filter(pk=pk).update(state=state, claimed_at=now):
            return None
        return cls.objects.filter(pk=pk, claimed_at=now).first()

    @transaction.atomic
    def store_fetched(self, content, sha256, size):
        """The fetched file, if this fetch still stands (nobody replaced it meanwhile)."""
        if not self._still_claimed(self.State.FETCHING):
            return False
        self._replace_file(content, sha256, size)
        self._queue_extraction()
        return True

    @transaction.atomic
    def store_passages(self, *, page_count, passages, note=""):
        """Replace the paper's passages with `passages` ([(page, text)]), in one transaction
        so that readers see the old set or the new one, never a mixture. False when this
        extraction no longer stands (the file was replaced meanwhile)."""
        if not self._still_claimed(self.State.EXTRACTING):
            return False
        Passage.objects.filter(paper=self.paper_id).delete()
        Passage.objects.bulk_create(
            Passage(paper_id=self.paper_id, page=page, ordinal=ordinal, text=text)
            for ordinal, (page, text) in enumerate(passages, start=1)
        )
        # bulk_create sends no signals: search learns of the new passages here, at commit.
        from papers.tasks import papers_changed

        papers_changed([self.paper_id])
        self.page_count = page_count
        if passages:
            self._set_state(self.State.EXTRACTED, note)
        else:
            self._set_state(
                self.State.NO_TEXT,
                f"no text on any of its {page_count:,} page{'s' if page_count != 1 else ''} "
                "(a scan? Assay does not read text in images)",
            )
        self.save()
        return True

    @transaction.atomic
    def refuse(self, reason, *, state=None):
        """No text from this file, for `reason`: its passages go (they were another file's).

        A failed download leaves no PDF at all: the earlier file, if any, goes too.
        """
        claimed_state = self.state
        if not self._still_claimed(claimed_state):
            return False
        Passage.objects.filter(paper=self.paper_id).delete()
        if claimed_state == self.State.FETCHING and self.file.name:
            name, storage = self.file.name, self.file.storage
            transaction.on_commit(lambda: storage.delete(name))
            self.file.name, self.sha256, self.size, self.page_count = "", "", 0, None
        self._set_state(state or self.State.REFUSED, reason)
        self.save()
        return True

    def _still_claimed(self, state):
        # Locks the row: a new upload waits for this write, or this write sees it and yields.
        current = PaperPdf.objects.select_for_update().filter(pk=self.pk).first()
        return (
            current is not None
            and current.state == state
            and current.claimed_at == self.claimed_at
            and current.sha256 == self.sha256
        )


@receiver(post_delete, sender=PaperPdf, dispatch_uid="papers-pdf-file")
def _delete_stored_file(sender, instance, **kwargs):
    # Storage hygiene, not domain logic: a deleted paper (or PDF row) leaves no file behind.
    if instance.file.name:
        name, storage = instance.file.name, instance.file.storage
        transaction.on_commit(lambda: storage.delete(name))
