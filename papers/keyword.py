"""Keyword search: a Tantivy (BM25) index derived from the database, the same on every backend.

One document per paper (its title and body: authors, venue, abstract and tags; its notes:
notes and the conclusions of linked questions) and one per passage of its full text
(papers.Passage), each carrying its paper id, so a query ranks papers and names the passage
that matched. A query is a flat disjunction of boosted term queries, which Tantivy answers
with block-max WAND: it skips the documents that cannot enter the top k instead of ranking
every match, so a 30-word query costs about what a 3-word one does (bench/search_latency.py).

Like the vector indexes (papers/vector_index.py) the index is derived and rebuildable: it lives
in ASSAY_INDEX_DIR/keyword-v<version>/, IndexState row KEYWORD_STATE names the current version,
and a full rebuild writes a new version beside the old one and switches the row. Updates are
incremental (only papers whose text digest changed are rewritten). Tantivy allows one writer per
index (a lock file): writers wait for it; readers in every process reload on each search.
"""

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import tantivy
from django.conf import settings

from .models import Paper
from .models.search import SEARCH_PREFETCHES, IndexState, document_fields

logger = logging.getLogger(__name__)

# Bump when the schema, the analyzer or what goes into a document changes: an index of another
# format is rebuilt (manage.py reindex --if-needed, the reconcile task, or the first search).
FORMAT = 1
# The IndexState row of the keyword index (not an embedding model name: those have no spaces).
KEYWORD_STATE = "keyword index"
# A paper's title and body (authors, venue, abstract, tags) are one field with the title in it
# TITLE_REPEATS times: BM25F's weighted term frequency, as FTS5's column weights did. Fields
# scored apart (title, body) saturate apart, so a word in both counted twice, and generic title
# words outranked the known item: ACLSum nDCG@10 (bench/retrieval_quality.py, keyword only)
# 0.820 with a title field boosted 4, 0.917 boosted 1 (then a title match no longer outranked
# a body-only one), 0.928 as one field with the title twice (FTS5: 0.914).
TITLE_REPEATS = 2
# BM25 boosts of the fields. Passages weigh less than the paper's own text: full text uses
# words in passing that an abstract uses only when the paper is about them.
BOOSTS = {"paper": 1.0, "notes": 1.0, "passage": 0.8}
ANALYZER = "assay_english"
# Paper documents say "no passage" with this passage id.
NO_PASSAGE = 0
# The last word, still being typed, also matches as a prefix; below this length a prefix
# expands to too many terms to help.
PREFIX_MIN_CHARS = 3
# Queries longer than this are pasted text, not typed: no prefix for their last word.
PREFIX_MAX_WORDS = 6
# A long query (a pasted abstract) is cut to its MAX_TERMS rarest words, which decide the
# ranking anyway (IDF) and keep a 30-word query about as cheap as a short one. ACLSum nDCG@10,
# keyword only: 12 terms 0.920, 16 0.928, 20 and more 0.928.
MAX_TERMS = 20
# Completions of the word being typed searched per field, and their weight against whole words.
PREFIX_EXPANSIONS = 8
PREFIX_DISCOUNT = 0.5
# Documents per paper hit asked of Tantivy: passages of one paper may fill several places.
DOCUMENTS_PER_HIT = 3
# Papers (with their passages) read from the database per batch when (re)building.
_BATCH = 1000
# How long a writer waits for another process's writer before giving up (the periodic
# reconcile task then picks the change up).
WRITER_WAIT_SECONDS = 60
_KEEP_VERSIONS = 2
_WORD = re.compile(r"\w+", re.UNICODE)
# Words too common to rank anything; dropping them keeps their long posting lists out of a query.
STOPWORDS = frozenset(
    "a all an and are as at be been but by can do does for from had has have how if in into is "
    "it its no not of on or our so such than that the their then there these this those to "
    "too was we were what when where which who why will with you your".split()
)


class WriterBusy(RuntimeError):
    """Another process held the keyword index writer for longer than WRITER_WAIT_SECONDS."""


def analyzer():
    # ascii_fold: "Schrödinger" finds "Schrodinger", as FTS5's remove_diacritics did.
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


_analyzer = analyzer()
# The word being typed is a prefix of an indexed term, which is folded but not yet stemmed.
_prefix_analyzer = (
    tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
    .filter(tantivy.Filter.lowercase())
    .filter(tantivy.Filter.ascii_fold())
    .build()
)


def _schema():
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("paper_id", indexed=True, fast=True)
    builder.add_integer_field("passage_id", indexed=True, fast=True)
    builder.add_integer_field("page", fast=True)
    # Of the paper's whole keyword text (passages included), on its paper document only.
    builder.add_integer_field("digest", fast=True)
    for name in BOOSTS:
        # Frequencies without positions: BM25 needs no more, and the index stays small.
        builder.add_text_field(name, tokenizer_name=ANALYZER, index_option="freq")
    return builder.build()


SCHEMA = _schema()


def query_terms(query):
    """The words of a query that search ranks on (lower case, stop words dropped)."""
    return [w for w in _WORD.findall(query.lower()) if w not in STOPWORDS]


def digest(text):
    # A signed 63-bit integer: what an integer fast field holds.
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:15], 16)


# --- where the index lives -----------------------------------------------------------------


def index_dir():
    return Path(settings.ASSAY_INDEX_DIR)


def _path(version):
    return index_dir() / f"keyword-v{version}"


def _manifest_path(version):
    return index_dir() / f"keyword-v{version}.json"


def read_manifest(version):
    try:
        return json.loads(_manifest_path(version).read_text())
    except (OSError, ValueError):
        return None


def _open(path):
    index = tantivy.Index(SCHEMA, path=str(path), reuse=True)
    index.register_tokenizer(ANALYZER, _analyzer)
    return index


def _writer(index):
    """The index's one writer, waiting (with backoff) while another process holds it."""
    deadline = time.monotonic() + WRITER_WAIT_SECONDS
    pause = 0.05
    while True:
        try:
            return index.writer(heap_size=50_000_000, num_threads=1)
        except ValueError as error:
            if "lock" not in str(error).lower() or time.monotonic() > deadline:
                if "lock" in str(error).lower():
                    raise WriterBusy(str(error)) from error
                raise
            time.sleep(pause)
            pause = min(1.0, pause * 2)


def _release(writer):
    # Commit done; waiting for the merges also drops the lock file at once, not at collection.
    writer.wait_merging_threads()


# --- documents -----------------------------------------------------------------------------


def _papers(paper_ids=None):
    papers = Paper.objects.order_by("pk").prefetch_related(*SEARCH_PREFETCHES, "passages")
    if paper_ids is not None:
        papers = papers.filter(pk__in=paper_ids)
    return papers


def paper_documents(paper):
    """(digest, [tantivy documents]) of one paper: its own and one per passage."""
    fields = document_fields(paper)
    own = {
        "paper": "\n".join([fields["title"]] * TITLE_REPEATS + [fields["body"]]),
        "notes": fields["notes"],
    }
    passages = list(paper.passages.all())
    text = "\x1f".join([*fields.values(), *(f"{p.pk}\x1e{p.page}\x1e{p.text}" for p in passages)])
    paper_digest = digest(text)
    documents = [
        tantivy.Document(
            paper_id=paper.pk, passage_id=NO_PASSAGE, page=0, digest=paper_digest, **own
        )
    ]
    documents.extend(
        tantivy.Document(paper_id=paper.pk, passage_id=p.pk, page=p.page, digest=0, passage=p.text)
        for p in passages
    )
    return paper_digest, documents


def _recorded_digests(index, paper_ids=None):
    """{paper id: digest} of the paper documents an index holds (of `paper_ids`, or all)."""
    index.reload()
    searcher = index.searcher()
    if not searcher.num_docs:
        return {}
    query = tantivy.Query.term_query(SCHEMA, "passage_id", NO_PASSAGE)
    if paper_ids is not None:
        if not paper_ids:
            return {}
        query = tantivy.Query.boolean_query(
            [
                (tantivy.Occur.Must, query),
                (tantivy.Occur.Must, tantivy.Query.term_set_query(SCHEMA, "paper_id", paper_ids)),
            ]
        )
    hits = searcher.search(query, limit=searcher.num_docs, count=False).hits
    addresses = [address for _, address in hits]
    return dict(
        zip(
            searcher.fast_field_values("paper_id", addresses),
            searcher.fast_field_values("digest", addresses),
            strict=True,
        )
    )


def _write_documents(index, paper_ids=None, progress=None):
    """Rewrite the papers whose digest changed and drop papers that are gone; returns how many
    papers were written or dropped.

    The writer lock is taken only to write what changed, not while every paper's text is read
    (a full pass over 100k papers takes minutes), except when filling a new, empty index that no
    other process writes to: then documents stream in without being held in memory.
    """
    ids = None if paper_ids is None else sorted({int(pk) for pk in paper_ids})
    recorded = _recorded_digests(index, ids)
    total = len(ids) if ids is not None else Paper.objects.count()
    writer = _writer(index) if not recorded else None
    changes, seen = [], set()
    try:
        for done, paper in enumerate(_papers(ids).iterator(chunk_size=_BATCH), start=1):
            seen.add(paper.pk)
            paper_digest, documents = paper_documents(paper)
            if recorded.get(paper.pk) != paper_digest:
                if writer is None:
                    changes.append((paper.pk, documents))
                else:
                    _apply(writer, paper.pk, documents, replace=False)
            if progress and done % _BATCH == 0:
                progress(done, total)
        gone = set(recorded) - seen
        changed = (len(changes) if writer is None else len(seen)) + len(gone)
        if writer is None and (changes or gone):
            writer = _writer(index)
            for pk, documents in changes:
                _apply(writer, pk, documents, replace=pk in recorded)
        if writer is not None:
            for pk in gone:
                writer.delete_documents_by_term("paper_id", pk)
            writer.commit()
    finally:
        if writer is not None:
            _release(writer)
    if progress:
        progress(total, total)
    return changed


def _apply(writer, paper_id, documents, *, replace):
    if replace:
        writer.delete_documents_by_term("paper_id", paper_id)
    for document in documents:
        writer.add_document(document)


# --- building and updating -----------------------------------------------------------------


def _state():
    return IndexState.for_model(KEYWORD_STATE)


_usable = set()


def current_version():
    """The version a search or an update should use, or None when there is none of FORMAT."""
    state = IndexState.objects.filter(model=KEYWORD_STATE).values("version").first()
    if not state or not state["version"]:
        return None
    version = state["version"]
    key = (str(index_dir()), version, FORMAT)
    if key not in _usable:
        manifest = read_manifest(version)
        if manifest is None:
            # Missing here (another host built it, or the folder was cleared): build this
            # version from the database rather than fail, as the vector indexes do.
            logger.warning("keyword index v%s missing here: building it", version)
            _build(version)
            manifest = read_manifest(version)
        if manifest.get("format") != FORMAT:
            return None
        _usable.add(key)  # a version's manifest never changes once written
    return version


def _build(version, progress=None):
    """Fill the folder of `version` from the database and write its manifest; returns how
    many papers it holds. Safe to repeat or to run twice at once: the writer lock serialises
    the runs and the second finds nothing left to write."""
    path = _path(version)
    path.mkdir(parents=True, exist_ok=True)
    index = _open(path)
    _write_documents(index, progress=progress)
    count = len(_recorded_digests(index))
    manifest = {"format": FORMAT, "version": version, "count": count}
    temporary = _manifest_path(version).with_name(f".keyword-v{version}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(manifest))
    os.replace(temporary, _manifest_path(version))
    return count


def rebuild(progress=None):
    """Build a new version from the database and switch to it; returns the IndexState.

    One rebuild at a time (the IndexState claim); a second caller returns at once.
    """
    state = _state()
    if not state.claim():
        return state

    def report(done, total):
        state.report_progress(done, total)
        if progress:
            progress(done, total)

    try:
        version = state.version + 1
        shutil.rmtree(_path(version), ignore_errors=True)  # a build that died half-way
        count = _build(version, progress=report)
        state.record_build(version=version, kind="", dim=0, count=count, checksum="")
        _forget_reader()
        _remove_old_versions(version)
        # Papers edited during the build were written into the old version by their tasks.
        _write_documents(_open(_path(version)))
    except Exception as error:
        state.finish(error=f"{type(error).__name__}: {error}")
        raise
    state.finish()
    return state


def _remove_old_versions(version):
    for old in range(max(0, version - 10), version - _KEEP_VERSIONS + 1):
        shutil.rmtree(_path(old), ignore_errors=True)
        _manifest_path(old).unlink(missing_ok=True)


def update_documents(paper_ids=None, progress=None):
    """Bring the keyword documents of these papers (all when None) up to date.

    Only papers whose text changed are rewritten; papers that no longer exist are dropped.
    Builds the index first when there is none of the current FORMAT. Returns how many papers
    were written or dropped.
    """
    version = current_version()
    if version is None:
        return rebuild(progress).count
    written = _write_documents(_open(_path(version)), paper_ids, progress)
    if written:
        _forget_reader()
    return written


def check():
    """What separates the keyword index from the database ([] when in sync)."""
    version = current_version()
    if version is None:
        return [f"no keyword index of format {FORMAT} has been built"]
    recorded = _recorded_digests(_open(_path(version)))
    current = {paper.pk: paper_documents(paper)[0] for paper in _papers().iterator(_BATCH)}
    problems = []
    if recorded.keys() - current.keys():
        problems.append(f"{len(recorded.keys() - current.keys())} deleted papers still indexed")
    if current.keys() - recorded.keys():
        problems.append(f"{len(current.keys() - recorded.keys())} papers not in the index")
    stale = sum(1 for pk, value in current.items() if pk in recorded and recorded[pk] != value)
    if stale:
        problems.append(f"{stale} papers changed since they were indexed")
    return problems


# --- searching -----------------------------------------------------------------------------

_readers = {}
_readers_lock = threading.Lock()


def _forget_reader():
    with _readers_lock:
        _readers.clear()


def _reader():
    """The current index opened once per process; None when none was built."""
    version = current_version()
    if version is None:
        return None
    key = (str(index_dir()), version)
    with _readers_lock:
        index = _readers.get(key)
        if index is None:
            # A new version replaces the old one's reader (its files may be deleted soon).
            for old in [k for k in _readers if k[0] == key[0]]:
                del _readers[old]
            index = _readers[key] = _open(_path(version))
            index.config_reader(reload_policy="Manual")
    return index


@dataclass
class KeywordHits:
    """Papers best first as [(paper id, score)], and the passage that matched best per paper
    where a passage scored above the paper's own document: {paper id: (passage id, page)}."""

    hits: list = field(default_factory=list)
    passages: dict = field(default_factory=dict)
    # The best passage per paper among the hits, even where the paper's own document scored
    # higher: the passage to show when the embedding side picks one (its words match).
    best_passages: dict = field(default_factory=dict)
    # False when Tantivy had more matches than it was asked for.
    complete: bool = True


def _rarest(tokens, searcher):
    """The MAX_TERMS rarest of `tokens` (fewest documents), in query order; tokens no document
    has are dropped first (they rank nothing)."""
    counts = {t: sum(searcher.doc_freq(name, t) for name in BOOSTS) for t in tokens}
    present = [t for t in tokens if counts[t]] or tokens
    rarest = set(sorted(present, key=lambda t: counts[t])[:MAX_TERMS])
    return [t for t in tokens if t in rarest]


def _query(query, searcher, paper_ids=None):
    terms = query_terms(query)
    tokens = list(dict.fromkeys(t for word in terms for t in _analyzer.analyze(word)))
    if not tokens:
        return None
    if len(tokens) > MAX_TERMS:
        tokens = _rarest(tokens, searcher)
    # Only (field, word) pairs some document has: a missing term's empty scorer is not a term
    # scorer, and one in the union turns block-max WAND off (30 words at 100k: 8.3 -> 4.2 ms).
    clauses = [
        (name, token, boost)
        for token in tokens
        for name, boost in BOOSTS.items()
        if searcher.doc_freq(name, token)
    ]
    last = terms[-1]
    if (
        not query[-1:].isspace()
        and len(last) >= PREFIX_MIN_CHARS
        and len(terms) <= PREFIX_MAX_WORDS
    ):
        # The word being typed: its commonest completions in each field's term dictionary, as
        # term queries at a discount (so "contras" finds "contrastive" while it is typed, and
        # the query stays a union of terms, which block-max WAND needs).
        for prefix in _prefix_analyzer.analyze(last):
            for name, boost in BOOSTS.items():
                for term, _ in searcher.terms_with_prefix(name, prefix, limit=PREFIX_EXPANSIONS):
                    clauses.append((name, term, boost * PREFIX_DISCOUNT))
    if not clauses:
        return None
    text = tantivy.Query.boolean_query(
        [
            (
                tantivy.Occur.Should,
                tantivy.Query.boost_query(tantivy.Query.term_query(SCHEMA, name, term), boost),
            )
            for name, term, boost in dict(((n, t), (n, t, b)) for n, t, b in clauses).values()
        ]
    )
    if paper_ids is None:
        return text
    allowed = tantivy.Query.const_score_query(
        tantivy.Query.term_set_query(SCHEMA, "paper_id", list(paper_ids)), 0.0
    )
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, allowed), (tantivy.Occur.Must, text)])


def keyword_search(query, *, limit=100, paper_ids=None):
    """KeywordHits of the papers matching `query`, best by BM25 first, at most `limit`.

    A paper scores its best document: its own or one of its passages. `paper_ids` restricts
    the candidates (listed to Tantivy: for a narrow filter; search() filters wide ones after).
    """
    if paper_ids is not None and not paper_ids:
        return KeywordHits()
    index = _reader() if query_terms(query) else None
    if index is None:
        return KeywordHits()
    index.reload()
    searcher = index.searcher()
    tantivy_query = _query(query, searcher, paper_ids)
    if tantivy_query is None:
        return KeywordHits()
    wanted = limit * DOCUMENTS_PER_HIT
    found = searcher.search(tantivy_query, limit=wanted, count=False).hits
    addresses = [address for _, address in found]
    paper_of = searcher.fast_field_values("paper_id", addresses)
    passage_of = searcher.fast_field_values("passage_id", addresses)
    page_of = searcher.fast_field_values("page", addresses)
    best, passages, best_passages = {}, {}, {}
    for (score, _), pk, passage, page in zip(found, paper_of, passage_of, page_of, strict=True):
        # Hits come best first: a paper's first document is its best, its first passage too.
        if passage != NO_PASSAGE and pk not in best_passages:
            best_passages[pk] = (passage, page)
        if pk in best:
            continue
        best[pk] = score
        if passage != NO_PASSAGE:
            passages[pk] = (passage, page)
    hits = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:limit]
    kept = {pk for pk, _ in hits}
    return KeywordHits(
        hits=hits,
        passages={pk: value for pk, value in passages.items() if pk in kept},
        best_passages={pk: value for pk, value in best_passages.items() if pk in kept},
        complete=len(found) < wanted and len(best) <= limit,
    )
