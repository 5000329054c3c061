"""Keyword search as it was before Tantivy (SQLite FTS5), kept for side-by-side figures only.

The app no longer has it (migration 0006 dropped the tables). This rebuilds the same FTS5 table
(porter stemmer, bm25 weights 4/1/1 for title/body/notes) in a bench database from the same
document text, and answers queries the way papers/keyword.py did: papers matching every word
first when there are `limit` of them, else any word; the last word also as a prefix; a query
of more than MAX_TERMS words cut to its MAX_TERMS rarest words.
"""

import re

from django.db import connection

TABLE = "bench_old_documents"
FTS = "bench_old_fts"
_BM25 = f"bm25({FTS}, 4.0, 1.0, 1.0)"
MAX_TERMS = 12
_WORD = re.compile(r"\w+", re.UNICODE)
_frequencies = {}


def build():
    """(Re)create the FTS5 documents of every paper; returns how many."""
    from papers.keyword import _papers
    from papers.models.search import document_fields

    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FTS}")
        cursor.execute(f"DROP TABLE IF EXISTS {TABLE}")
        cursor.execute(
            f"CREATE TABLE {TABLE} (paper_id INTEGER PRIMARY KEY, title TEXT, body TEXT, "
            "notes TEXT)"
        )
        cursor.execute(
            f"CREATE VIRTUAL TABLE {FTS} USING fts5(title, body, notes, content='{TABLE}', "
            "content_rowid='paper_id', tokenize='porter unicode61 remove_diacritics 2')"
        )
        rows = []
        for paper in _papers().iterator(chunk_size=1000):
            fields = document_fields(paper)
            rows.append((paper.pk, fields["title"], fields["body"], fields["notes"]))
        cursor.executemany(f"INSERT INTO {TABLE} VALUES (%s, %s, %s, %s)", rows)
        cursor.execute(f"INSERT INTO {FTS}({FTS}) VALUES ('rebuild')")
    _frequencies.clear()
    return len(rows)


def exists():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = %s", [FTS])
        return cursor.fetchone()[0] == 1


def _terms(query):
    from papers.keyword import STOPWORDS

    return [w for w in _WORD.findall(query.lower()) if w not in STOPWORDS]


def _frequency(term):
    if term not in _frequencies:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM {FTS} WHERE {FTS} MATCH %s", [f'"{term}"'])  # noqa: S608
            _frequencies[term] = cursor.fetchone()[0]
    return _frequencies[term]


def _informative(terms):
    distinct = list(dict.fromkeys(terms))
    if len(distinct) <= MAX_TERMS:
        return distinct
    counts = {term: _frequency(term) for term in distinct}
    present = [term for term in distinct if counts[term]] or distinct
    rarest = set(sorted(present, key=lambda term: counts[term])[:MAX_TERMS])
    return [term for term in distinct if term in rarest]


def _run(terms, prefix, limit, every_word):
    quoted = [f'"{term}"' for term in terms]
    if prefix:
        quoted[-1] = f"({quoted[-1]} OR {quoted[-1]}*)"
    sql = (
        f"SELECT rowid, {_BM25} FROM {FTS} WHERE {FTS} MATCH %s "  # noqa: S608
        f"ORDER BY {_BM25}, rowid LIMIT %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [(" AND " if every_word else " OR ").join(quoted), limit])
        return [(pk, -score) for pk, score in cursor.fetchall()]


def keyword_search(query, *, limit=100, paper_ids=None):
    """The old keyword search, as papers.keyword.keyword_search's KeywordHits (unfiltered)."""
    from papers.keyword import KeywordHits

    assert paper_ids is None, "the old path is benched unfiltered"
    terms = _terms(query)
    if not terms:
        return KeywordHits()
    prefix = not query[-1:].isspace()
    if len(terms) > MAX_TERMS:
        kept = _informative(terms)
        prefix = prefix and kept[-1] == terms[-1]
        terms = kept
    if len(terms) > 1:
        hits = _run(terms, prefix, limit, every_word=True)
        if len(hits) >= limit:
            return KeywordHits(hits=hits)
    return KeywordHits(hits=_run(terms, prefix, limit, every_word=False))
