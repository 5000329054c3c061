"""Keyword search over SearchDocument: PostgreSQL full-text search, or SQLite FTS5.

Both backends take the same query and return [(paper id, score)] best first. A query is split
into words; a paper matches any of them (ranking rewards papers matching more, and rarer,
words), and the last word also matches as a prefix (unless the query ends with a space), so
results appear while a word is being typed.
"""

import re
import time

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection, transaction
from django.db.models import F

from .models import Paper
from .models.search import SEARCH_PREFETCHES, SearchDocument, content_hash, document_fields

FTS_TABLE = "papers_search_fts"
# Text search configuration on PostgreSQL; SQLite's FTS5 uses the porter stemmer to match it.
CONFIG = "english"
# FTS5 bm25 column weights (title, body, notes), like PostgreSQL's A, B, C weights.
_BM25 = "bm25(papers_search_fts, 4.0, 1.0, 1.0)"
_VECTOR = (
    SearchVector("title", weight="A", config=CONFIG)
    + SearchVector("body", weight="B", config=CONFIG)
    + SearchVector("notes", weight="C", config=CONFIG)
)
# Rows per statement: SQLite allows ~32k parameters.
_CHUNK = 5000
_WORD = re.compile(r"\w+", re.UNICODE)
# Words too common to rank anything; PostgreSQL's english configuration drops them too.
STOPWORDS = frozenset(
    "a all an and are as at be been but by can do does for from had has have how if in into is "
    "it its no not of on or our so such than that the their then there these this those to "
    "too was we were what when where which who why will with you your".split()
)


# A long query (a pasted abstract) OR-matches most of the library, and ranking all of it cost
# ~110 ms at 100k papers. The rarest words decide the ranking anyway (IDF), so a query of more
# than MAX_TERMS words searches only its MAX_TERMS rarest ones (8 cost ACLSum nDCG@10 0.914 ->
# 0.890 in bench/retrieval_quality.py; 12 kept it).
MAX_TERMS = 12
# Document frequencies of words, per database: cleared when this process rewrites documents and
# at least every _FREQUENCIES_TTL seconds (documents written elsewhere); pruning needs no more.
_FREQUENCIES_TTL = 600
_frequencies = {}
_frequencies_since = time.monotonic()


def query_terms(query):
    """The words of a query that search ranks on (lower case, stop words dropped)."""
    return [w for w in _WORD.findall(query.lower()) if w not in STOPWORDS]


def keyword_search(query, *, limit=100, papers=None):
    """[(paper id, score)] of papers matching `query`, best first.

    Papers matching every word come first when there are `limit` of them: that answers the
    usual short query without ranking the many papers that share one common word with it.
    Otherwise any word matches. `papers`, a Paper queryset, restricts the candidates (the
    search filters); scores are comparable only within one call.
    """
    terms = query_terms(query)
    if not terms:
        return []
    prefix = not query[-1:].isspace()
    run = _postgres if connection.vendor == "postgresql" else _sqlite
    if len(terms) > MAX_TERMS:
        kept = informative_terms(terms)
        prefix = prefix and kept[-1] == terms[-1]
        terms = kept
    if len(terms) > 1:
        hits = run(terms, prefix, limit, papers, every_word=True)
        if len(hits) >= limit:
            return hits
    return run(terms, prefix, limit, papers, every_word=False)


def informative_terms(terms, keep=None):
    """The `keep` (default MAX_TERMS) rarest of `terms` in the library, in query order; words
    no document has are dropped first (they cannot rank anything)."""
    keep = keep or MAX_TERMS
    distinct = list(dict.fromkeys(terms))
    if len(distinct) <= keep:
        return distinct
    counts = {term: document_frequency(term) for term in distinct}
    present = [term for term in distinct if counts[term]] or distinct
    rarest = set(sorted(present, key=lambda term: counts[term])[:keep])
    return [term for term in distinct if term in rarest]


def document_frequency(term):
    """How many keyword documents contain `term` (stemmed as documents are); cached."""
    global _frequencies_since
    if time.monotonic() - _frequencies_since > _FREQUENCIES_TTL:
        _frequencies.clear()
        _frequencies_since = time.monotonic()
    key = (connection.alias, term)
    if key not in _frequencies:
        if connection.vendor == "postgresql":
            query = SearchQuery(term, search_type="plain", config=CONFIG)
            count = SearchDocument.objects.filter(search_vector=query).count()
        else:
            sql = f"SELECT count(*) FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"  # noqa: S608
            with connection.cursor() as cursor:
                cursor.execute(sql, [f'"{term}"'])
                count = cursor.fetchone()[0]
        _frequencies[key] = count
    return _frequencies[key]


def _postgres(terms, prefix, limit, papers, every_word):
    # The last word also as a prefix; PostgreSQL stems both, as it stems the documents.
    last = f"({terms[-1]} | {terms[-1]}:*)" if prefix else terms[-1]
    query = SearchQuery(
        (" & " if every_word else " | ").join([*terms[:-1], last]),
        search_type="raw",
        config=CONFIG,
    )
    documents = SearchDocument.objects.filter(search_vector=query)
    if papers is not None:
        documents = documents.filter(paper__in=papers.values("pk"))
    ranked = (
        documents.annotate(rank=SearchRank(F("search_vector"), query))
        .order_by("-rank", "pk")
        .values_list("pk", "rank")[:limit]
    )
    return [(pk, float(rank)) for pk, rank in ranked]


def _sqlite(terms, prefix, limit, papers, every_word):
    quoted = [f'"{term}"' for term in terms]
    if prefix:
        # Both ways: the stemmed word ("convolution" finds "convolutional") and the prefix.
        quoted[-1] = f"({quoted[-1]} OR {quoted[-1]}*)"
    sql = f"SELECT rowid, {_BM25} FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s"  # noqa: S608
    params = [(" AND " if every_word else " OR ").join(quoted)]
    if papers is not None:
        subquery, subparams = papers.values("pk").query.sql_with_params()
        sql += f" AND rowid IN ({subquery})"
        params.extend(subparams)
    sql += f" ORDER BY {_BM25}, rowid LIMIT %s"
    params.append(limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # bm25 is lower-is-better; negate so every backend's scores are higher-is-better.
        return [(pk, -score) for pk, score in cursor.fetchall()]


def refresh_documents(paper_ids=None):
    """Bring the keyword documents of these papers (all when None) up to date.

    Only documents whose text changed are rewritten. Documents of deleted papers go with
    them (cascade). Returns how many were written.
    """
    papers = Paper.objects.order_by("pk").prefetch_related(*SEARCH_PREFETCHES)
    documents = SearchDocument.objects.all()
    if paper_ids is not None:
        papers = papers.filter(pk__in=paper_ids)
        documents = documents.filter(pk__in=paper_ids)
    recorded = dict(documents.values_list("pk", "content_hash"))
    fresh = []
    for paper in papers.iterator(chunk_size=1000):
        fields = document_fields(paper)
        digest = content_hash("\x1f".join(fields.values()))
        if recorded.get(paper.pk) != digest:
            fresh.append(SearchDocument(paper_id=paper.pk, content_hash=digest, **fields))
    ids = [document.paper_id for document in fresh]
    if ids:
        _frequencies.clear()
    with transaction.atomic():
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            # Delete and insert rather than update: the FTS5 triggers see plain row changes.
            SearchDocument.objects.filter(pk__in=chunk).delete()
            SearchDocument.objects.bulk_create(fresh[start : start + _CHUNK], batch_size=500)
            if connection.vendor == "postgresql":
                SearchDocument.objects.filter(pk__in=chunk).update(search_vector=_VECTOR)
    return len(fresh)
