"""Keyword search: SQLite FTS5 here, PostgreSQL full-text search when DATABASE_URL says so."""

import pytest
from django.db import connection

from papers import keyword
from papers.keyword import keyword_search, refresh_documents
from papers.models import Paper, SearchDocument
from tests.factories import make_note, make_paper


@pytest.fixture
def library(db):
    papers = {
        "title": make_paper(title="Contrastive learning of visual representations"),
        "abstract": make_paper(
            title="SimCLR v2", abstract="Big self-supervised contrastive models"
        ),
        "other": make_paper(title="Word embeddings", abstract="Skip-gram with negative sampling"),
    }
    refresh_documents()
    return papers


def ids(hits):
    return [pk for pk, _ in hits]


def test_backend_in_use_is_the_databases_own():
    assert connection.vendor in ("sqlite", "postgresql")


def test_title_matches_rank_above_body_matches(library):
    hits = keyword_search("contrastive")
    assert ids(hits) == [library["title"].pk, library["abstract"].pk]
    assert hits[0][1] > hits[1][1]


def test_stemming_and_prefix_of_the_word_being_typed(library):
    assert ids(keyword_search("representation")) == [library["title"].pk]
    assert ids(keyword_search("contras")) == [library["title"].pk, library["abstract"].pk]
    assert keyword_search("contras ") == []  # a finished word is not a prefix


def test_any_word_matches_and_more_words_rank_higher(library):
    hits = ids(keyword_search("skip negative sampling big"))
    assert hits == [library["other"].pk, library["abstract"].pk]


@pytest.mark.parametrize(
    "query", ['"unbalanced', "AND OR NOT", "a*b (c", "NEAR(x y)", "col:umn", "' ; DROP", "^*"]
)
def test_query_syntax_characters_are_plain_text(library, query):
    assert isinstance(keyword_search(query), list)


def test_stop_words_alone_match_nothing(library):
    assert keyword_search("the of and") == []


def test_restricted_to_a_queryset(library):
    allowed = Paper.objects.filter(pk=library["abstract"].pk)
    assert ids(keyword_search("contrastive", papers=allowed)) == [library["abstract"].pk]


def test_documents_follow_edits_and_deletes(library, bob):
    paper = library["other"]
    make_note(paper=paper, author=bob, limitations="Ignores subword morphology")
    assert refresh_documents() == 1  # only the changed document is rewritten
    assert ids(keyword_search("morphology")) == [paper.pk]
    paper.delete()
    assert keyword_search("morphology") == []
    assert not SearchDocument.objects.filter(pk=paper.pk).exists()
    assert refresh_documents() == 0


def test_papers_matching_every_word_come_first_when_there_are_enough(library):
    both = ids(keyword_search("contrastive representations", limit=1))
    assert both == [library["title"].pk]
    either = ids(keyword_search("contrastive skip", limit=1))  # no paper has both words
    assert len(either) == 1


def test_long_query_searches_its_rarest_words_and_finds_the_known_item(db, monkeypatch):
    monkeypatch.setattr(keyword, "MAX_TERMS", 8)
    # Every paper shares the common words; only the known item has the rare ones.
    for number in range(12):
        make_paper(
            title=f"Neural model {number}",
            abstract="A neural language model trained on large data for better results",
        )
    known = make_paper(
        title="Neural model for quaternion rotations",
        abstract="A neural language model of quaternion gimbal rotations trained on data",
    )
    refresh_documents()
    query = (
        "we train a neural language model on large data and report better results for "
        "quaternion gimbal rotations with the neural model"
    )
    terms = keyword.query_terms(query)
    assert len(set(terms)) > keyword.MAX_TERMS
    kept = keyword.informative_terms(terms)
    assert len(kept) == keyword.MAX_TERMS
    assert {"quaternion", "gimbal", "rotations"} <= set(kept)
    # Dropped: words in every document (no help in ranking) and words in none.
    every_document = {"neural", "language", "model", "data", "train"}
    assert set(terms) - set(kept) <= every_document | {"report"}
    assert ids(keyword_search(query))[0] == known.pk


def test_words_no_document_has_do_not_crowd_out_rare_ones(db, monkeypatch):
    monkeypatch.setattr(keyword, "MAX_TERMS", 8)
    known = make_paper(title="Quaternion gimbal lock", abstract="Rotations")
    make_paper(title="Something else", abstract="Rotations")
    refresh_documents()
    query = "zzqa zzqb zzqc zzqd zzqe zzqf zzqg zzqh zzqi quaternion"
    assert "quaternion" in keyword.informative_terms(keyword.query_terms(query))
    assert ids(keyword_search(query)) == [known.pk]
