"""Background work that keeps the keyword index, vectors and vector indexes in step with papers.

Tasks take ids and are idempotent: each compares content hashes and index checksums with the
database and does only what is missing, so running one twice, or after a worker died half-way,
finishes the job rather than repeating or corrupting it.
"""

import logging
import tempfile
import threading
import uuid

from celery import shared_task
from django.conf import settings
from django.db import transaction

from core.tasks import discard, enqueue, enqueue_fallback

from . import arxiv_api, keyword, pdfs, vector_index
from .embeddings import configured_models, embed_papers, embed_passages
from .models import PaperPdf, Watch
from .models.search import IndexState, PaperEmbedding, PassageEmbedding, ids_checksum

logger = logging.getLogger(__name__)


def reindex_model(model_name, *, paper_ids=None, rebuild=False, progress=None):
    """Embed what is missing or stale (of `paper_ids`, or all) and bring the index up to date.

    Returns False without doing anything when another live run holds the model; that run
    re-checks the database before it ends, so the work is not lost.
    """
    state = IndexState.for_model(model_name)
    if not state.claim():
        return False

    def report(done, total):
        state.report_progress(done, total)
        if progress:
            progress(done, total)

    try:
        force = rebuild and paper_ids is None
        embed_papers(model_name, paper_ids, force=force, progress=report)
        # Passages after papers: a paper's own vector matters more, and comes first.
        embed_passages(model_name, paper_ids, force=force)
        passage_index = vector_index.passage_index_name(model_name)
        # Papers edited while this ran are embedded by their own task, which found the model
        # claimed and returned: pick their vectors up before letting go.
        for _ in range(3):
            passages = vector_index.update_index(passage_index, rebuild=rebuild)
            state = vector_index.update_index(model_name, rebuild=rebuild)
            rebuild = False
            current = PaperEmbedding.objects.for_model(model_name).contents()
            current_passages = PassageEmbedding.objects.for_model(model_name).contents()
            if ids_checksum(current.keys()) == state.ids_checksum and (
                ids_checksum(current_passages.keys()) == passages.ids_checksum
            ):
                break
    except Exception as error:
        state.finish(error=f"{type(error).__name__}: {error}")
        raise
    state.finish()
    return True


@shared_task(name="papers.tasks.index_papers")
def index_papers(model_name, paper_ids=None, rebuild=False):
    """Vectors and index of one model for these papers (all when None); on the embedding queue."""
    if model_name not in configured_models():
        logger.info("skipping %s: no longer a configured embedding model", model_name)
        return False
    return reindex_model(model_name, paper_ids=paper_ids, rebuild=rebuild)


# The name predates the Tantivy index: queued and deferred rows still carry it.
@shared_task(
    name="papers.tasks.refresh_search_documents",
    autoretry_for=(keyword.WriterBusy,),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def refresh_search_documents(paper_ids=None):
    """Keyword index documents of these papers (all when None)."""
    return keyword.update_documents(paper_ids)


@shared_task(name="papers.tasks.reconcile_indexes")
def reconcile_indexes():
    """Periodic repair: bring the keyword index up to date, and reindex each model that drifted.

    Vectors of deleted papers go with them (foreign key cascade); indexes drop them here.
    """
    refresh_search_documents()
    drifted = []
    for model_name in configured_models():
        if not vector_index.check(model_name).ok:
            drifted.append(model_name)
            enqueue(index_papers, model_name, queue=settings.ASSAY_EMBEDDING_QUEUE)
    return drifted


def request_rebuild(model_name):
    """Queue a full re-embed and rebuild of one model's index (the Rebuild button)."""
    state = IndexState.for_model(model_name)
    if state.mark_queued():
        enqueue(index_papers, model_name, None, True, queue=settings.ASSAY_EMBEDDING_QUEUE)
    return state


# --- coalescing: one round of tasks per transaction, however many papers it touched ---------

_pending = threading.local()


def papers_changed(paper_ids):
    """Schedule keyword and vector updates for these papers when the transaction commits."""
    ids = getattr(_pending, "ids", None)
    if ids is None:
        ids = _pending.ids = set()
    ids.update(paper_ids)
    connection = transaction.get_connection()
    # Django gives each transaction (and each savepoint rollback) a new list of commit hooks.
    if (
        connection.in_atomic_block
        and getattr(_pending, "hooks", None) is not connection.run_on_commit
    ):
        _record_fallbacks()
    transaction.on_commit(_flush)
    _pending.hooks = connection.run_on_commit


def _record_fallbacks():
    # The outbox's promise within the transaction: should this process die after the commit
    # and before _flush, full passes (idempotent: only stale texts are redone) run instead.
    # A random group, as a rolled-back transaction's rows are gone and their ids may be reused.
    group = uuid.uuid4().hex
    enqueue_fallback(refresh_search_documents, None, group=group)
    for model_name in configured_models():
        enqueue_fallback(
            index_papers, model_name, group=group, queue=settings.ASSAY_EMBEDDING_QUEUE
        )
    _pending.fallback_groups = [*(getattr(_pending, "fallback_groups", None) or []), group]


def _flush():
    # The first callback of a transaction takes every pending id; the others find none left.
    # Ids left behind by a rolled-back transaction ride along with the next commit: the tasks
    # ignore papers that do not exist and texts that did not change.
    ids = sorted(getattr(_pending, "ids", ()) or ())
    _pending.ids = set()
    groups, _pending.fallback_groups = getattr(_pending, "fallback_groups", None) or [], []
    if ids:
        enqueue(refresh_search_documents, ids)
        for model_name in configured_models():
            enqueue(index_papers, model_name, ids, queue=settings.ASSAY_EMBEDDING_QUEUE)
    discard(groups)


# --- intake: watches polled into the triage inbox ------------------------------------------


@shared_task(name="papers.tasks.poll_watch")
def poll_watch(watch_id):
    """Poll one watch into the inbox. Idempotent: a match already in the inbox or the library
    is not added again, so a retried or doubled poll adds nothing."""
    watch = Watch.objects.filter(pk=watch_id, active=True).first()
    if watch is None:
        return 0
    return len(arxiv_api.poll(watch))


@shared_task(name="papers.tasks.poll_due_watches")
def poll_due_watches():
    """Periodic: queue a poll of every active watch not polled within Watch.POLL_EVERY."""
    due = list(Watch.objects.due().values_list("pk", flat=True))
    with transaction.atomic():
        for watch_id in due:
            enqueue(poll_watch, watch_id)
    return due


# --- PDFs: download and text extraction (papers/pdfs.py does the outside I/O) --------------


@shared_task(name="papers.tasks.fetch_pdf")
def fetch_pdf(pdf_id):
    """Download a paper's PDF from its source URL, then queue its extraction.

    Idempotent: a PDF no longer waiting for its download (done, replaced, or held by a live
    worker) is left alone.
    """
    pdf = PaperPdf.claim_fetch(pdf_id)
    if pdf is None:
        return False
    with tempfile.TemporaryFile() as destination:
        try:
            download = pdfs.download(pdf.source_url, destination)
        except pdfs.FetchError as error:
            pdf.refuse(f"download failed: {error}")
            return False
        return pdf.store_fetched(download.file, download.sha256, download.size)


@shared_task(name="papers.tasks.extract_pdf")
def extract_pdf(pdf_id):
    """Read a paper's PDF into its passages (or record why there is no text).

    Idempotent: a PDF not queued (already extracted, or held by a live worker) is left alone;
    one whose file was replaced while this ran keeps the newer extraction's result.
    """
    pdf = PaperPdf.claim_extraction(pdf_id)
    if pdf is None:
        return False
    try:
        result = pdfs.extract_stored(pdf)
    except OSError as error:
        # The stored file is missing or unreadable: nothing a retry would change.
        return pdf.refuse(f"the stored file cannot be read ({error})")
    if result.refused:
        return pdf.refuse(result.refused)
    return pdf.store_passages(
        page_count=result.page_count, passages=result.passages, note=result.note
    )
