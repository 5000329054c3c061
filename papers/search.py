"""Hybrid paper search: keyword ranking and dense retrieval, fused.

One function, `search()`, serves the web page, the API and `manage.py search`, so all three
rank alike. Results are papers: a note, a question conclusion or a passage of the full text that
matches makes its paper a hit (see papers/keyword.py), and the snippet shows the matching note
or passage (with its page). Every hit is re-read from the database, so a paper deleted after an
index was built is never returned, and filters are applied there too: both retrievers fetch
extra candidates and only a narrow filter, which leaves too few of them, is listed to them.
"""

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db.models import Q, prefetch_related_objects
from django.utils.html import escape
from django.utils.safestring import mark_safe

from . import vector_index
from .embeddings import get_embedder, resolve_model_name
from .keyword import DOCUMENTS_PER_HIT, KeywordHits, keyword_search, query_terms
from .models import Paper, PaperEmbedding, Passage
from .models.search import SEARCH_PREFETCHES, document_fields

MODES = ("hybrid", "keyword", "dense")
MAX_K = 100
MAX_QUERY_LENGTH = 1000
# Hybrid fusion: 0.7 x keyword + 0.3 x dense, each score min-max normalised over the query's
# candidates. Chosen on ACLSum's train+val queries, checked on its test queries
# (bench/retrieval_quality.py): plain reciprocal rank fusion (k=60) left hybrid below
# keyword-only with wordllama at every dense weight; this beats both retrievers with both models.
KEYWORD_WEIGHT = 0.7
# Each retriever contributes this many candidates (at least) to the fusion.
MIN_CANDIDATES = 50
# With filters, each retriever fetches this many times more candidates, filtered in the database
# afterwards: listing every allowed id to faiss and Tantivy cost more than the search (~20 ms
# for 100k ids). A filter that leaves too few is narrow, and its ids are listed after all.
FILTER_OVERFETCH = 4
FILTERS = ("year_from", "year_to", "tag", "ring", "has_note_by", "min_relevance")


class SearchError(ValueError):
    """Bad search input, with a message fit to show the user."""


@dataclass
class SearchResult:
    paper: Paper
    score: float
    keyword_rank: int | None = None
    dense_rank: int | None = None
    highlights: dict = field(default_factory=dict)
    # The passage of the full text that matched best, when it matched better than the paper.
    passage: Passage | None = None


def _check_k(k):
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise SearchError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}.")


def _check_year(name, value):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1000 <= value <= 2100:
        raise SearchError(f"{name} must be a year, got {value!r}.")
    return value


def filtered_papers(filters=None, user=None):
    """The papers the filters allow, or None when there are no filters (everything).

    `filters`: year_from, year_to, tag (name), ring (radar ring of a linked technique),
    has_note_by (a user), min_relevance (1-5, of a note: of that user's note when has_note_by).
    """
    filters = {key: value for key, value in (filters or {}).items() if value not in (None, "")}
    unknown = set(filters) - set(FILTERS)
    if unknown:
        raise SearchError(f"Unknown filters: {', '.join(sorted(unknown))}.")
    if not filters:
        return None
    papers = Paper.objects.all()
    year_from = _check_year("year_from", filters.get("year_from"))
    year_to = _check_year("year_to", filters.get("year_to"))
    if year_from and year_to and year_from > year_to:
        raise SearchError("year_from is after year_to.")
    if year_from:
        papers = papers.filter(year__gte=year_from)
    if year_to:
        papers = papers.filter(year__lte=year_to)
    if "tag" in filters:
        papers = papers.tagged(filters["tag"])
    if "ring" in filters:
        papers = papers.filter(techniques__ring=filters["ring"])
    note = Q()
    if "has_note_by" in filters:
        note &= Q(notes__author=filters["has_note_by"])
    if "min_relevance" in filters:
        relevance = filters["min_relevance"]
        if isinstance(relevance, bool) or relevance not in range(1, 6):
            raise SearchError(f"min_relevance must be 1 to 5, got {relevance!r}.")
        note &= Q(notes__relevance__gte=relevance)
    if note:
        papers = papers.filter(note)
    # A subquery of ids: the joins above may repeat a paper.
    return Paper.objects.filter(pk__in=papers.values("pk"))


def _normalised(hits):
    if not hits:
        return {}
    scores = [score for _, score in hits]
    low, high = min(scores), max(scores)
    return {pk: (score - low) / (high - low) if high > low else 1.0 for pk, score in hits}


def fuse(keyword_hits, dense_hits, keyword_weight=KEYWORD_WEIGHT):
    """Convex combination of min-max normalised scores: [(id, score in [0, 1])] best first.

    Per-query normalisation puts bm25 / ts_rank and cosine on one scale; a candidate missing
    from one list gets 0 from it, like the last candidate of that list.
    """
    combined = {}
    for hits, weight in ((keyword_hits, keyword_weight), (dense_hits, 1 - keyword_weight)):
        for pk, score in _normalised(hits).items():
            combined[pk] = combined.get(pk, 0.0) + weight * score
    return sorted(combined.items(), key=lambda pair: (-pair[1], pair[0]))


# Query embedding and faiss release the GIL: the dense side runs beside the keyword query.
_dense_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="dense-search")


def start_dense_search(query, model_name, limit, paper_ids=None, passage_limit=0):
    """A future of ([(paper id, cosine)], [(passage id, cosine)]), best first, from the model's
    paper index (restricted to `paper_ids` when given) and, for `passage_limit` hits, its
    passage index; [] for an index not built yet.

    One query vector serves both. Everything touching the database happens here, in the
    caller's thread (and transaction).
    """
    index = vector_index.current_index(model_name)
    passage_index = (
        vector_index.current_index(vector_index.passage_index_name(model_name))
        if passage_limit
        else None
    )
    embedder = get_embedder(model_name)
    if index is not None or passage_index is not None:
        embedder.check_ready()

    def run():
        if index is None and passage_index is None:
            return [], []
        vector = embedder.encode_query(query)
        found = []
        for searched, k, allowed in (
            (index, limit, paper_ids),
            (passage_index, passage_limit, None),
        ):
            hits = (
                searched.search(vector, k, allowed_paper_ids=allowed)
                if searched is not None
                else []
            )
            # No similarity at all to the query is no match, however few there are.
            found.append([hit for hit in hits if hit[1] > 0])
        return tuple(found)

    return _dense_pool.submit(run)


def search(query, *, model=None, mode="hybrid", k=10, filters=None, user=None):
    """Papers matching `query`, best first, as SearchResult (paper, score, highlights).

    mode: "hybrid" (keyword and dense scores fused), "keyword" or "dense". `model` picks the
    embedding model (default: settings.ASSAY_EMBEDDING_DEFAULT_MODEL). Raises SearchError on
    bad input and embeddings.UnknownModel on a model that is not configured.
    """
    query = (query or "").strip()
    if not query:
        raise SearchError("Type something to search for.")
    if len(query) > MAX_QUERY_LENGTH:
        raise SearchError(f"Queries are limited to {MAX_QUERY_LENGTH} characters.")
    if mode not in MODES:
        raise SearchError(f"Unknown mode {mode!r}; choose one of {', '.join(MODES)}.")
    _check_k(k)
    model_name = resolve_model_name(model)
    return _ranked(query, model_name, mode, k, filtered_papers(filters, user))


def _fold_passages(dense_hits, passage_hits):
    """Dense paper hits with passage hits folded in: a paper scores its best vector, its own or
    a passage's. Returns (hits best first, {paper id: (passage id, page)} where a passage won)."""
    if not passage_hits:
        return dense_hits, {}
    rows = Passage.objects.filter(pk__in=[pk for pk, _ in passage_hits])
    where = {pk: (paper_id, page) for pk, paper_id, page in rows.values_list("pk", "paper", "page")}
    best, passages = dict(dense_hits), {}
    for pk, score in passage_hits:  # best first: a paper's first passage is its best
        if pk in where and score > best.get(where[pk][0], 0.0):
            paper_id, page = where[pk]
            best[paper_id], passages[paper_id] = score, (pk, page)
    return sorted(best.items(), key=lambda item: (-item[1], item[0])), passages


def _retrieve(query, model_name, mode, limit, paper_ids=None):
    """(KeywordHits, dense hits, dense passages) of `limit` candidates each, the retrievers
    side by side."""
    dense = None
    if mode != "keyword":
        dense = start_dense_search(
            query, model_name, limit, paper_ids, passage_limit=limit * DOCUMENTS_PER_HIT
        )
    keyword = (
        keyword_search(query, limit=limit, paper_ids=paper_ids)
        if mode != "dense"
        else KeywordHits()
    )
    if dense is None:
        return keyword, [], {}
    return keyword, *_fold_passages(*dense.result())


def _ranked(query, model_name, mode, k, papers):
    limit = max(MIN_CANDIDATES, 3 * k)
    fetch = limit if papers is None else limit * FILTER_OVERFETCH
    keyword, dense_hits, dense_passages = _retrieve(query, model_name, mode, fetch)
    # One query checks that the candidates exist (an index may hold a paper deleted since) and
    # pass the filters.
    candidates = {pk for pk, _ in keyword.hits} | {pk for pk, _ in dense_hits}
    allowed = set(
        (Paper.objects if papers is None else papers)
        .filter(pk__in=candidates)
        .values_list("pk", flat=True)
    )
    keyword_hits = [hit for hit in keyword.hits if hit[0] in allowed][:limit]
    dense_hits_kept = [hit for hit in dense_hits if hit[0] in allowed][:limit]
    keyword_short = len(keyword_hits) < limit and not keyword.complete
    dense_short = len(dense_hits_kept) < limit and len(dense_hits) >= fetch
    if papers is not None and (keyword_short or dense_short):
        # A narrow filter: ask again among the papers it allows, listed.
        paper_ids = list(papers.values_list("pk", flat=True))
        again_keyword, again_dense, again_passages = _retrieve(
            query,
            model_name,
            "hybrid"
            if keyword_short and dense_short
            else ("keyword" if keyword_short else "dense"),
            limit,
            paper_ids,
        )
        if keyword_short:
            keyword, keyword_hits = again_keyword, again_keyword.hits
        if dense_short:
            dense_hits_kept, dense_passages = again_dense, again_passages
    dense_hits = dense_hits_kept
    keyword_ranks = {pk: rank for rank, (pk, _) in enumerate(keyword_hits, start=1)}
    dense_ranks = {pk: rank for rank, (pk, _) in enumerate(dense_hits, start=1)}
    if mode == "hybrid":
        ranked = fuse(keyword_hits, dense_hits)
    else:
        ranked = keyword_hits or dense_hits
    shown = ranked[:k]
    shown_papers = Paper.objects.in_bulk([pk for pk, _ in shown])
    # A passage is shown where one beat its paper on either side; the keyword side's best
    # passage of that paper then, if it has one: its words are the ones the snippet marks.
    matched = {
        pk: keyword.best_passages.get(pk, passage)
        for pk, passage in {**dense_passages, **keyword.passages}.items()
    }
    passage_of = {pk: matched[pk][0] for pk, _ in shown if pk in matched}
    passages = Passage.objects.in_bulk(passage_of.values())
    results = [
        SearchResult(
            paper=shown_papers[pk],
            score=score,
            keyword_rank=keyword_ranks.get(pk),
            dense_rank=dense_ranks.get(pk),
            passage=passages.get(passage_of.get(pk)),
        )
        for pk, score in shown
        if pk in shown_papers
    ]
    _add_highlights(results, query)
    return results


# --- highlights ---------------------------------------------------------------------------

SNIPPET_CHARS = 240


def _pattern(terms):
    # Word prefixes, cut a little so "routing" also marks "routes" (the stemmer's job in search).
    prefixes = sorted({term[: max(4, len(term) - 2)] for term in terms}, key=len, reverse=True)
    if not prefixes:
        return None
    return re.compile(r"\b(" + "|".join(re.escape(p) for p in prefixes) + r")\w*", re.IGNORECASE)


def highlight(text, pattern):
    """`text` HTML-escaped, with the matches of `pattern` wrapped in <mark>."""
    if pattern is None:
        return escape(text)
    parts, last = [], 0
    for match in pattern.finditer(text):
        parts.append(escape(text[last : match.start()]))
        parts.append(f"<mark>{escape(match.group(0))}</mark>")
        last = match.end()
    parts.append(escape(text[last:]))
    return mark_safe("".join(parts))  # noqa: S308 - every piece of text is escaped above


def _snippet(text, pattern):
    """SNIPPET_CHARS of `text` around the stretch where most different words of the query
    are (the first such stretch): a long passage may name one query word long before the
    sentence that has them all."""
    matches = list(pattern.finditer(text)) if pattern else []
    start, best = 0, 0
    reach = SNIPPET_CHARS - SNIPPET_CHARS // 3
    for index, first in enumerate(matches):
        words = set()
        for match in matches[index:]:
            if match.end() > first.start() + reach:
                break
            words.add(match.group(1).lower())
        if len(words) > best:
            best, start = len(words), max(0, first.start() - SNIPPET_CHARS // 3)
    piece = text[start : start + SNIPPET_CHARS]
    return ("…" if start else "") + piece + ("…" if start + SNIPPET_CHARS < len(text) else "")


def _add_highlights(results, query):
    pattern = _pattern(query_terms(query))
    # The match may be in a note or a linked question's conclusion: read those (in one go) for
    # papers whose abstract does not show it.
    unmatched = [
        r.paper
        for r in results
        if r.passage is None and pattern and not pattern.search(r.paper.abstract)
    ]
    prefetch_related_objects(unmatched, *SEARCH_PREFETCHES)
    for result in results:
        paper, source, text = result.paper, "abstract", result.paper.abstract
        if result.passage is not None:
            text, source = result.passage.text, "passage"
        elif pattern and not pattern.search(text):
            notes = document_fields(paper)["notes"]
            if pattern.search(notes):
                text, source = notes, "notes"
        result.highlights = {
            "title": highlight(paper.title, pattern),
            "snippet": highlight(_snippet(text, pattern), pattern) if text else "",
            "source": source,
        }


# --- neighbours of a paper or a question ---------------------------------------------------


def similar_papers(paper, k=5, *, model=None):
    """Papers nearest to `paper` in embedding space, as SearchResult (score is cosine)."""
    _check_k(k)
    model_name = resolve_model_name(model)
    embedding = PaperEmbedding.objects.for_model(model_name).filter(paper=paper).first()
    index = vector_index.current_index(model_name)
    if embedding is None or index is None:
        return []
    hits = [(pk, s) for pk, s in index.search(embedding.as_array(), k + 1) if pk != paper.pk]
    alive = Paper.objects.in_bulk([pk for pk, _ in hits])
    return [
        SearchResult(paper=alive[pk], score=score, dense_rank=rank)
        for rank, (pk, score) in enumerate(hits, start=1)
        if pk in alive
    ][:k]


def candidates_for_question(question, k=10, *, model=None):
    """Papers not yet linked to a research question that hybrid search finds for it."""
    _check_k(k)
    text = " ".join(part for part in (question.question, question.conclusion) if part)
    unlinked = Paper.objects.exclude(question_links__question=question)
    return _ranked(text, resolve_model_name(model), "hybrid", k, unlinked)


def near_duplicates(model=None, threshold=0.95, limit=200):
    """Pairs of papers whose vectors have cosine >= threshold: [(paper, paper, score)].

    Looks at each paper's few nearest neighbours, so its cost is one k-NN query per paper.
    """
    if not 0 < threshold <= 1:
        raise SearchError(f"threshold must be in (0, 1], got {threshold!r}.")
    model_name = resolve_model_name(model)
    index = vector_index.current_index(model_name)
    if index is None:
        return []
    _, paper_ids, vectors = PaperEmbedding.objects.for_model(model_name).matrix()
    pairs = {}
    step = 1000
    for start in range(0, len(paper_ids), step):
        scores, neighbours = index.index.search(vectors[start : start + step], 6)
        for row, own in enumerate(paper_ids[start : start + step].tolist()):
            for other, score in zip(neighbours[row].tolist(), scores[row].tolist(), strict=True):
                if other not in (-1, own) and score >= threshold:
                    pairs[(min(own, other), max(own, other))] = score
    best = sorted(pairs.items(), key=lambda item: -item[1])[:limit]
    papers = Paper.objects.in_bulk({pk for pair, _ in best for pk in pair})
    return [(papers[a], papers[b], score) for (a, b), score in best if a in papers and b in papers]
