"""faiss indexes derived from PaperEmbedding rows: build, update, write, load, detect drift.

Each model has one current index file, ASSAY_INDEX_DIR/<model>-v<version>.faiss, with
<model>-v<version>.json (the manifest: version, kind, dim, count, checksum of the embedding ids
it holds) and <model>-v<version>.ids.npy (those ids, so the next update is a diff, not a
rebuild). Files are written under temporary names and renamed into place, the manifest last,
and IndexState is pointed at the new version only after that: a reader never sees half a file.
faiss ids are paper ids, so a hit needs no lookup table. Each model also has a passage index,
named passage_index_name(model) (files and IndexState row alike), built the same way from
PassageEmbedding rows; its faiss ids are passage ids.
"""

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings

from .models.search import (
    IndexState,
    PaperEmbedding,
    PassageEmbedding,
    ids_checksum,
    stale_papers,
    stale_passages,
)

# faiss logs its CPU-feature probing (six lines) at INFO on import: noise in every command.
logging.getLogger("faiss.loader").setLevel(logging.WARNING)
import faiss  # noqa: E402

logger = logging.getLogger(__name__)

FORMAT = 1
# HNSW graph degree and build/search beam widths. With efConstruction=40 the graph is too weak
# (recall@10 0.63 at 1M even at efSearch 2048); a sweep at 200k vectors gave recall 1.000 for
# M=32, efConstruction=100 at efSearch 512. bench/search_latency.py --part 2 measures it at 1M.
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 100
HNSW_EF_SEARCH = 512
# Rows per query when reading vectors: SQLite allows ~32k parameters per statement.
_CHUNK = 5000
# Old versions kept on disk so that a process that just read the state can still open its file.
_KEEP_VERSIONS = 2


_PASSAGES = "+passages"


def index_dir():
    return Path(settings.ASSAY_INDEX_DIR)


def passage_index_name(model_name):
    """The name (files, IndexState row) of the index of a model's passage vectors."""
    return f"{model_name}{_PASSAGES}"


def _embeddings(index_name):
    """The rows an index is built from: paper vectors, or passage vectors for a passage index."""
    if index_name.endswith(_PASSAGES):
        return PassageEmbedding.objects.for_model(index_name.removesuffix(_PASSAGES))
    return PaperEmbedding.objects.for_model(index_name)


def desired_kind(count):
    return IndexState.Kind.HNSW if count > settings.ASSAY_ANN_THRESHOLD else IndexState.Kind.FLAT


def _path(model_name, version, suffix):
    return index_dir() / f"{model_name}-v{version}{suffix}"


def new_index(kind, dim):
    """An empty faiss index of `kind` whose ids are paper ids and whose score is cosine."""
    if kind == IndexState.Kind.HNSW:
        inner = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        inner.hnsw.efSearch = HNSW_EF_SEARCH
    else:
        inner = faiss.IndexFlatIP(dim)
    return faiss.IndexIDMap(inner)


@dataclass
class LoadedIndex:
    model: str
    version: int
    kind: str
    index: faiss.Index
    embedding_ids: np.ndarray
    paper_ids: np.ndarray

    @property
    def count(self):
        return int(self.index.ntotal)

    def search(self, vector, k, allowed_paper_ids=None):
        """[(paper id, cosine score)] best first; restricted to `allowed_paper_ids` if given."""
        if self.count == 0 or k <= 0:
            return []
        params = None
        if allowed_paper_ids is not None:
            allowed = np.fromiter(allowed_paper_ids, dtype=np.int64)
            if not len(allowed):
                return []
            selector = faiss.IDSelectorBatch(allowed)
            params = (
                faiss.SearchParametersHNSW(sel=selector, efSearch=HNSW_EF_SEARCH)
                if self.kind == IndexState.Kind.HNSW
                else faiss.SearchParameters(sel=selector)
            )
        query = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(1, -1))
        # One query on two OpenMP threads scans a 100k flat index in 13.5 ms, on one in 7.7 ms
        # (bench/search_latency.py): splitting one scan costs more than it saves. The setting
        # belongs to the calling thread only, so batch searches elsewhere keep every core.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            scores, ids = self.index.search(query, min(k, self.count), params=params)
        finally:
            faiss.omp_set_num_threads(threads)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i != -1]


def _write(model_name, version, loaded):
    """Write the three files of `loaded` atomically; returns the manifest."""
    directory = index_dir()
    directory.mkdir(parents=True, exist_ok=True)
    manifest = {
        "format": FORMAT,
        "model": model_name,
        "version": version,
        "kind": loaded.kind,
        "dim": int(loaded.index.d),
        "count": loaded.count,
        "ids_checksum": ids_checksum(loaded.embedding_ids),
    }
    ids = np.stack([loaded.embedding_ids, loaded.paper_ids]) if loaded.count else np.zeros((2, 0))
    targets = [
        (_path(model_name, version, ".faiss"), lambda p: faiss.write_index(loaded.index, str(p))),
        (_path(model_name, version, ".ids.npy"), lambda p: _save_npy(p, ids.astype(np.int64))),
        (_path(model_name, version, ".json"), lambda p: p.write_text(json.dumps(manifest))),
    ]
    for target, write in targets:
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        write(temporary)
        os.replace(temporary, target)
    return manifest


def _save_npy(path, array):
    with open(path, "wb") as handle:
        np.save(handle, array)


def read_manifest(model_name, version):
    """The manifest of a version, or None when its files are missing or unreadable."""
    try:
        return json.loads(_path(model_name, version, ".json").read_text())
    except (OSError, ValueError):
        return None


def _read(model_name, version):
    manifest = read_manifest(model_name, version)
    if manifest is None or manifest.get("format") != FORMAT:
        return None
    try:
        index = faiss.read_index(str(_path(model_name, version, ".faiss")))
        ids = np.load(_path(model_name, version, ".ids.npy"))
    except (OSError, RuntimeError, ValueError) as error:
        logger.warning("cannot read %s index v%s: %s", model_name, version, error)
        return None
    if manifest["kind"] == IndexState.Kind.HNSW:
        faiss.downcast_index(index.index).hnsw.efSearch = HNSW_EF_SEARCH
    return LoadedIndex(model_name, version, manifest["kind"], index, ids[0], ids[1])


def _from_database(model_name, version, kind, progress=None):
    """A full build from the vectors in the database."""
    embedding_ids, paper_ids, vectors = _embeddings(model_name).matrix()
    dim = vectors.shape[1] if len(paper_ids) else _dim_of(model_name)
    index = new_index(kind, dim)
    # HNSW inserts are the slow part of a big build: add in steps and report them.
    step = 20_000
    for start in range(0, len(paper_ids), step):
        index.add_with_ids(vectors[start : start + step], paper_ids[start : start + step])
        if progress:
            progress(min(start + step, len(paper_ids)), len(paper_ids))
    return LoadedIndex(model_name, version, kind, index, embedding_ids, paper_ids)


def _dim_of(model_name):
    from .embeddings import get_embedder

    return get_embedder(model_name.removesuffix(_PASSAGES)).dim


def _apply_changes(current, contents, version):
    """`current` brought to `contents` ({embedding id: paper id}) by removing and adding."""
    held = dict(zip(current.embedding_ids.tolist(), current.paper_ids.tolist(), strict=True))
    removed = [paper_id for eid, paper_id in held.items() if eid not in contents]
    added = [eid for eid in contents if eid not in held]
    if removed:
        current.index.remove_ids(np.asarray(removed, dtype=np.int64))
    for start in range(0, len(added), _CHUNK):
        chunk = _embeddings(current.model).filter(pk__in=added[start : start + _CHUNK])
        _, paper_ids, vectors = chunk.matrix()
        if len(paper_ids):
            current.index.add_with_ids(vectors, paper_ids)
    embedding_ids = np.fromiter(contents.keys(), np.int64, len(contents))
    paper_ids = np.fromiter(contents.values(), np.int64, len(contents))
    return LoadedIndex(
        current.model, version, current.kind, current.index, embedding_ids, paper_ids
    )


def update_index(model_name, *, rebuild=False, progress=None):
    """Make the index file of `model_name` hold exactly its vectors in the database.

    Applies the difference to the current file when it can (flat indexes support removal);
    builds from scratch when asked, when there is no readable current file, when the kind
    changes across ASSAY_ANN_THRESHOLD, or when an HNSW index would need a removal. Returns
    the IndexState, pointing at the new version (or unchanged when nothing drifted).
    """
    state = IndexState.for_model(model_name)
    contents = _embeddings(model_name).contents()
    checksum = ids_checksum(contents.keys())
    kind = desired_kind(len(contents))
    on_disk = read_manifest(model_name, state.version) if state.version else None
    if (
        not rebuild
        and on_disk is not None
        and on_disk["ids_checksum"] == checksum == state.ids_checksum
        and state.kind == kind
    ):
        return state
    version = state.version + 1
    current = None if rebuild or state.kind != kind else _read(model_name, state.version)
    needs_removal = current is not None and not set(current.embedding_ids.tolist()) <= set(contents)
    if current is None or (kind == IndexState.Kind.HNSW and needs_removal):
        built = _from_database(model_name, version, kind, progress)
    else:
        built = _apply_changes(current, contents, version)
    manifest = _write(model_name, version, built)
    state.record_build(
        version=version,
        kind=kind,
        dim=manifest["dim"],
        count=manifest["count"],
        checksum=manifest["ids_checksum"],
    )
    _remember(built)
    _remove_old_files(model_name, version)
    return state


def _remove_old_files(model_name, version):
    for path in index_dir().glob(f"{model_name}-v*"):
        stem = path.name[len(model_name) + 2 :].split(".", 1)[0]
        if stem.isdigit() and int(stem) <= version - _KEEP_VERSIONS:
            path.unlink(missing_ok=True)


# --- the index each process serves searches from -------------------------------------------

_loaded = {}
_loaded_lock = threading.Lock()


def _remember(loaded):
    with _loaded_lock:
        _loaded[(str(index_dir()), loaded.model)] = loaded


def current_index(model_name):
    """The current index of a model, loaded once per process and reloaded on a new version.

    None when no index was ever built. When the file of the current version is missing here
    (another host wrote it, or the folder was cleared), it is rebuilt in memory from the
    database rather than failing the search.
    """
    state = IndexState.objects.filter(model=model_name).values("version", "kind").first()
    if not state or not state["version"]:
        return None
    key = (str(index_dir()), model_name)
    with _loaded_lock:
        loaded = _loaded.get(key)
        if loaded is not None and loaded.version == state["version"]:
            return loaded
        loaded = _read(model_name, state["version"])
        if loaded is None:
            logger.warning("%s index v%s missing here: building it from the database",
                           model_name, state["version"])  # fmt: skip
            loaded = _from_database(model_name, state["version"], state["kind"])
        _loaded[key] = loaded
        return loaded


# --- drift between the database and the files ----------------------------------------------


@dataclass
class Drift:
    model: str
    problems: list

    @property
    def ok(self):
        return not self.problems


def check(model_name):
    """What separates the index of `model_name` from the database (empty when in sync).

    Compares the state row, the manifest on disk and the vectors in the database, plus papers
    whose vector is missing or was computed from text that has since changed.
    """
    passages = model_name.endswith(_PASSAGES)
    problems = []
    state = IndexState.objects.filter(model=model_name).first()
    contents = _embeddings(model_name).contents()
    model, things = model_name.removesuffix(_PASSAGES), "passages" if passages else "papers"
    missing, stale = (stale_passages if passages else stale_papers)(model)
    if missing:
        problems.append(f"{len(missing)} {things} have no {model} vector")
    if stale:
        problems.append(f"{len(stale)} {things} changed since their {model} vector was made")
    if not passages:
        # The model's passage index drifts with it: reindexing the model repairs both.
        problems.extend(check(passage_index_name(model_name)).problems)
    if state is None or not state.version:
        if contents or missing:
            problems.append("no index has been built")
        return Drift(model_name, problems)
    manifest = read_manifest(model_name, state.version)
    if manifest is None:
        problems.append(f"index file v{state.version} is missing from {index_dir()}")
        return Drift(model_name, problems)
    if manifest["ids_checksum"] != state.ids_checksum or manifest["count"] != state.count:
        problems.append(f"index file v{state.version} does not match its recorded state")
    checksum = ids_checksum(contents.keys())
    if manifest["ids_checksum"] != checksum:
        problems.append(
            f"index v{state.version} holds {manifest['count']} vectors, the database "
            f"{len(contents)}, and they differ"
            if manifest["count"] != len(contents)
            else f"index v{state.version} holds other vectors than the database"
        )
    if manifest["kind"] != desired_kind(len(contents)):
        problems.append(f"index is {manifest['kind']}, expected {desired_kind(len(contents))}")
    return Drift(model_name, problems)
