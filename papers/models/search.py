"""What search is built from: vectors per paper and model, index state, keyword text.

The database is the source of truth. PaperEmbedding rows hold every vector; the faiss files in
ASSAY_INDEX_DIR are derived from them (papers/vector_index.py) and IndexState records which
version of each file is current, of the keyword index (papers/keyword.py) too.
document_fields says what text of a paper keyword search ranks.
"""

import hashlib
import os
import socket
from datetime import timedelta

import numpy as np
from django.db import models
from django.utils import timezone


def content_hash(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def ids_checksum(embedding_ids):
    """A checksum of a set of PaperEmbedding ids: equal iff an index holds exactly those rows."""
    ids = np.sort(np.asarray(list(embedding_ids), dtype=np.int64))
    return hashlib.sha256(ids.tobytes()).hexdigest()


class EmbeddingQuerySet(models.QuerySet):
    # The id a vector index holds for each row: the paper's (or the passage's).
    owner = "paper_id"

    def for_model(self, model_name):
        return self.filter(model=model_name)

    def contents(self):
        """{embedding id: owner id} of this queryset: what an index built from it contains."""
        return dict(self.values_list("pk", self.owner))

    def matrix(self):
        """(embedding ids, owner ids, float32 vectors) of this queryset, in owner id order."""
        rows = list(self.order_by(self.owner).values_list("pk", self.owner, "vector"))
        embedding_ids = np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows))
        paper_ids = np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows))
        if not rows:
            return embedding_ids, paper_ids, np.zeros((0, 0), dtype=np.float32)
        vectors = np.frombuffer(b"".join(bytes(row[2]) for row in rows), dtype=np.float32)
        return embedding_ids, paper_ids, vectors.reshape(len(rows), -1)


class PaperEmbedding(models.Model):
    """One paper's vector under one embedding model.

    A re-embedded paper gets a new row (new id), so the set of ids an index was built from says
    exactly which vectors it holds.
    """

    paper = models.ForeignKey("papers.Paper", on_delete=models.CASCADE, related_name="embeddings")
    model = models.CharField(max_length=100)
    dim = models.PositiveIntegerField()
    vector = models.BinaryField()
    # Of the embedded text: a paper whose text changed since has a stale vector.
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = EmbeddingQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["paper", "model"], name="one_embedding_per_model"),
        ]
        indexes = [models.Index(fields=["model", "paper"], name="papers_embedding_model_idx")]

    def __str__(self):
        return f"{self.model} vector of paper {self.paper_id}"

    def as_array(self):
        return np.frombuffer(bytes(self.vector), dtype=np.float32)


class PassageEmbeddingQuerySet(EmbeddingQuerySet):
    owner = "passage_id"


class PassageEmbedding(models.Model):
    """One passage's vector under one embedding model; its index holds passage ids."""

    passage = models.ForeignKey(
        "papers.Passage", on_delete=models.CASCADE, related_name="embeddings"
    )
    model = models.CharField(max_length=100)
    dim = models.PositiveIntegerField()
    vector = models.BinaryField()
    content_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PassageEmbeddingQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["passage", "model"], name="one_passage_embedding_per_model"
            ),
        ]
        indexes = [models.Index(fields=["model", "passage"], name="papers_passage_embedding_idx")]

    def __str__(self):
        return f"{self.model} vector of passage {self.passage_id}"


class IndexState(models.Model):
    """The current vector index file of one model, and the progress of a running (re)index."""

    class Kind(models.TextChoices):
        FLAT = "flat", "Exact (flat inner product)"
        HNSW = "hnsw", "Approximate (HNSW)"

    class Status(models.TextChoices):
        IDLE = "idle", "Never built"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Up to date"
        FAILED = "failed", "Failed"

    # A worker killed mid-run stops beating; after this long another run may take over. On the
    # claim holder's own host a dead holder is recognised at once (see holder_is_dead).
    STALE_AFTER = timedelta(minutes=10)

    model = models.CharField(max_length=100, unique=True)
    version = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=10, choices=Kind.choices, blank=True)
    dim = models.PositiveIntegerField(default=0)
    count = models.PositiveIntegerField(default=0)
    ids_checksum = models.CharField(max_length=64, blank=True)
    built_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.IDLE)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    heartbeat = models.DateTimeField(null=True, blank=True)
    holder = models.CharField(
        max_length=300, blank=True, help_text="host:pid of the process running the index job"
    )

    class Meta:
        ordering = ["model"]
        permissions = [("rebuild_index", "Can rebuild the search indexes")]

    def __str__(self):
        return f"{self.model} index v{self.version}"

    @classmethod
    def for_model(cls, model_name):
        state, _ = cls.objects.get_or_create(model=model_name)
        return state

    @property
    def in_progress(self):
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def percent(self):
        if not self.progress_total:
            return 100 if self.status == self.Status.DONE else 0
        return round(100 * self.progress_done / self.progress_total)

    @staticmethod
    def current_holder():
        return f"{socket.gethostname()}:{os.getpid()}"

    def holder_is_dead(self):
        """True when the claim's process is known to be gone: it ran on this host and has exited.

        A holder on another host cannot be checked from here; its heartbeat going stale is then
        the only sign (STALE_AFTER).
        """
        host, _, pid = self.holder.rpartition(":")
        if host != socket.gethostname() or not pid.isdigit():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False

    def _take_over(self, busy_statuses, **changes):
        """Conditional update: take the row unless a live, beating process holds it."""
        fresh = timezone.now() - self.STALE_AFTER
        rows = IndexState.objects.filter(pk=self.pk)
        claimed = rows.exclude(status__in=busy_statuses, heartbeat__gt=fresh).update(**changes)
        if not claimed:
            self.refresh_from_db()
            if self.status == self.Status.RUNNING and self.holder and self.holder_is_dead():
                # Same holder and status in the filter: only one taker wins the dead claim.
                claimed = rows.filter(status=self.status, holder=self.holder).update(**changes)
        self.refresh_from_db()
        return claimed == 1

    def mark_queued(self):
        """Queue a (re)index unless one is already queued or running; True if queued now."""
        return self._take_over(
            [self.Status.QUEUED, self.Status.RUNNING],
            status=self.Status.QUEUED,
            heartbeat=timezone.now(),
            error="",
        )

    def claim(self):
        """Take the run: True for exactly one worker unless another is alive and beating."""
        return self._take_over(
            [self.Status.RUNNING],
            status=self.Status.RUNNING,
            heartbeat=timezone.now(),
            holder=self.current_holder(),
            progress_done=0,
            progress_total=0,
            error="",
        )

    def report_progress(self, done, total):
        self.progress_done, self.progress_total = done, total
        IndexState.objects.filter(pk=self.pk).update(
            progress_done=done, progress_total=total, heartbeat=timezone.now()
        )

    def finish(self, error=""):
        self.status = self.Status.FAILED if error else self.Status.DONE
        IndexState.objects.filter(pk=self.pk).update(
            status=self.status, error=error, heartbeat=timezone.now()
        )

    def record_build(self, *, version, kind, dim, count, checksum):
        """Point at a newly written index file; the file is written before this is called."""
        IndexState.objects.filter(pk=self.pk).update(
            version=version,
            kind=kind,
            dim=dim,
            count=count,
            ids_checksum=checksum,
            built_at=timezone.now(),
            heartbeat=timezone.now(),
        )
        self.refresh_from_db()


# --- the text each paper contributes -------------------------------------------------------


def embedding_text(paper):
    """What a paper's vector encodes: its title and abstract (what the paper is about).

    Notes and conclusions stay out of the vector so readers' opinions do not move the paper in
    embedding space; keyword search covers them (see document_fields).
    """
    return f"{paper.title}. {paper.abstract}".strip() if paper.abstract else paper.title


def _prose_values(obj):
    """Every non-empty free-text field of a model instance, read generically."""
    values = []
    for field in obj._meta.concrete_fields:
        if field.choices or field.is_relation:
            continue
        if isinstance(field, models.CharField | models.TextField):
            value = getattr(obj, field.attname)
            if value and value.strip():
                values.append(value.strip())
    return values


def document_fields(paper):
    """{title, body, notes} of a paper's keyword document (its passages are documents of
    their own, see papers/keyword.py)."""
    body = [", ".join(paper.authors), paper.venue, paper.abstract]
    body.append(" ".join(tag.name for tag in paper.tags.all()))
    notes = []
    for note in paper.notes.all():
        notes.extend(_prose_values(note))
    for link in paper.question_links.all():
        notes.extend(_prose_values(link))
        notes.extend(_prose_values(link.question))
    return {
        "title": paper.title,
        "body": "\n".join(part for part in body if part),
        "notes": "\n".join(notes),
    }


# The relations document_fields reads, for prefetch_related on a Paper queryset.
SEARCH_PREFETCHES = ("tags", "notes", "question_links__question")


def stale_passages(model_name):
    """(ids of passages with no vector, ids of passages whose text changed since)."""
    from .passages import Passage

    hashes = dict(
        PassageEmbedding.objects.for_model(model_name).values_list("passage_id", "content_hash")
    )
    missing, stale = [], []
    for pk, text in Passage.objects.order_by("pk").values_list("pk", "text").iterator(5000):
        recorded = hashes.get(pk)
        if recorded is None:
            missing.append(pk)
        elif recorded != content_hash(text):
            stale.append(pk)
    return missing, stale


def stale_papers(model_name):
    """(ids of papers with no vector, ids of papers whose text changed since) for a model."""
    from .paper import Paper

    hashes = dict(
        PaperEmbedding.objects.for_model(model_name).values_list("paper_id", "content_hash")
    )
    missing, stale = [], []
    for paper in Paper.objects.only("pk", "title", "abstract").order_by("pk").iterator(2000):
        recorded = hashes.get(paper.pk)
        if recorded is None:
            missing.append(paper.pk)
        elif recorded != content_hash(embedding_text(paper)):
            stale.append(paper.pk)
    return missing, stale
