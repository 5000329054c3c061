"""Keyword search: the Tantivy BM25 index, the same engine on SQLite and PostgreSQL."""

import threading

import pytest

from papers import keyword
from papers.keyword import keyword_search, update_documents
from papers.models import IndexState, Passage
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
    update_documents()
    return papers


def ids(found):
    return [pk for pk, _ in found.hits]


def test_title_matches_rank_above_body_matches(library):
    found = keyword_search("contrastive")
    assert ids(found) == [library["title"].pk, library["abstract"].pk]
    assert found.hits[0][1] > found.hits[1][1]


def test_stemming_and_prefix_of_the_word_being_typed(library):
    assert ids(keyword_search("representation")) == [library["title"].pk]
    assert ids(keyword_search("contras")) == [library["title"].pk, library["abstract"].pk]
    assert ids(keyword_search("contras ")) == []  # a finished word is not a prefix


def test_any_word_matches_and_more_words_rank_higher(library):
    assert ids(keyword_search("skip negative sampling big")) == [
        library["other"].pk,
        library["abstract"].pk,
    ]


@pytest.mark.parametrize(
    "query",
    ['"unbalanced', "AND OR NOT", "a*b (c", "NEAR(x y)", "col:umn", "' ; DROP", "^*", "IN [a b]"],
)
def test_query_syntax_characters_are_plain_text(library, query):
    assert isinstance(keyword_search(query).hits, list)


def test_stop_words_alone_match_nothing(library):
    assert keyword_search("the of and").hits == []


def test_restricted_to_listed_papers(library):
    allowed = [library["abstract"].pk]
    assert ids(keyword_search("contrastive", paper_ids=allowed)) == allowed
    assert ids(keyword_search("contrastive", paper_ids=[])) == []


def test_documents_follow_edits_and_deletes(library, bob):
    paper = library["other"]
    make_note(paper=paper, author=bob, limitations="Ignores subword morphology")
    assert update_documents() == 1  # only the changed paper is rewritten
    assert ids(keyword_search("morphology")) == [paper.pk]
    paper.title = "Subword units"
    paper.save()
    assert update_documents([paper.pk]) == 1
    assert ids(keyword_search("subword units")) == [paper.pk]
    assert ids(keyword_search("word embeddings")) == []
    paper_id = paper.pk
    paper.delete()
    assert update_documents([paper_id]) == 1  # dropped from the index
    assert ids(keyword_search("morphology")) == []
    assert update_documents() == 0


def test_papers_matching_every_word_come_first(library):
    assert ids(keyword_search("contrastive representations", limit=1)) == [library["title"].pk]
    assert len(ids(keyword_search("contrastive skip", limit=1))) == 1  # no paper has both


def test_long_query_finds_the_known_item_by_its_rare_words(db):
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
    update_documents()
    query = (
        "we train a neural language model on large data and report better results for "
        "quaternion gimbal rotations with the neural model and zzqa zzqb zzqc zzqd zzqe zzqf "
        "zzqg zzqh words no paper has, typed out at length like a pasted abstract would be"
    )
    assert len(query.split()) > 30
    found = keyword_search(query, limit=5)
    assert ids(found)[0] == known.pk
    assert len(found.hits) == 5


def test_a_passage_makes_its_paper_a_hit_and_names_the_passage_and_page(db):
    paper = make_paper(title="Mixture of experts", abstract="Sparse models")
    make_paper(title="Dense transformers", abstract="Every parameter for every token")
    Passage.objects.create(paper=paper, page=3, ordinal=0, text="Intro text about sparsity")
    matching = Passage.objects.create(
        paper=paper, page=7, ordinal=1, text="The load balancing loss keeps experts busy"
    )
    update_documents()
    found = keyword_search("load balancing loss")
    assert ids(found) == [paper.pk]
    assert found.passages[paper.pk] == (matching.pk, 7)
    # A match in the paper's own text names no passage.
    assert keyword_search("sparse models").passages == {}


def test_passage_edits_and_deletes_reach_the_index(db):
    paper = make_paper(title="Speculative decoding")
    passage = Passage.objects.create(paper=paper, page=2, ordinal=0, text="draft model tokens")
    update_documents()
    assert ids(keyword_search("draft")) == [paper.pk]
    passage.text = "verification by the target model"
    passage.save()
    assert update_documents([paper.pk]) == 1
    assert ids(keyword_search("draft")) == []
    assert keyword_search("verification").passages == {paper.pk: (passage.pk, 2)}
    passage.delete()
    update_documents([paper.pk])
    assert ids(keyword_search("verification")) == []


def test_rebuild_from_scratch_equals_incremental_updates(library, bob):
    make_note(paper=library["other"], author=bob, key_insight="negative sampling is cheap")
    Passage.objects.create(paper=library["title"], page=4, ordinal=0, text="sampling negatives")
    update_documents([library["other"].pk, library["title"].pk])
    queries = ["contrastive", "negative sampling", "cheap", "visual", "big models", "sampl"]
    # Rankings and passages, not scores: until segments merge, BM25 statistics still count
    # the documents an update replaced.
    incremental = [(ids(keyword_search(q)), keyword_search(q).passages) for q in queries]
    version = IndexState.objects.get(model=keyword.KEYWORD_STATE).version
    state = keyword.rebuild()
    assert state.version == version + 1
    assert [(ids(keyword_search(q)), keyword_search(q).passages) for q in queries] == incremental
    assert keyword.check() == []


def test_a_new_format_rebuilds_the_index(library, monkeypatch):
    version = IndexState.objects.get(model=keyword.KEYWORD_STATE).version
    monkeypatch.setattr(keyword, "FORMAT", keyword.FORMAT + 1)
    assert keyword.check() == [f"no keyword index of format {keyword.FORMAT} has been built"]
    assert ids(keyword_search("contrastive")) == []  # the old index is not read
    update_documents([library["title"].pk])  # any update first builds the new format
    assert IndexState.objects.get(model=keyword.KEYWORD_STATE).version == version + 1
    assert ids(keyword_search("contrastive")) == [library["title"].pk, library["abstract"].pk]
    assert keyword.check() == []


def test_check_reports_drift(library):
    library["other"].title = "Changed behind the index's back"
    library["other"].save()
    assert keyword.check() == ["1 papers changed since they were indexed"]
    update_documents()
    assert keyword.check() == []


def test_a_search_sees_what_another_process_wrote(library):
    assert ids(keyword_search("quaternion")) == []  # this process has its reader open
    paper = make_paper(title="Quaternion networks")
    # Written through an index opened apart from this process's reader, as another process
    # (a Celery worker) would.
    version = IndexState.objects.get(model=keyword.KEYWORD_STATE).version
    keyword._write_documents(keyword._open(keyword._path(version)), [paper.pk])
    assert ids(keyword_search("quaternion")) == [paper.pk]


def test_a_writer_waits_for_another_writers_lock(library, monkeypatch):
    version = IndexState.objects.get(model=keyword.KEYWORD_STATE).version
    other = keyword._writer(keyword._open(keyword._path(version)))
    paper = make_paper(title="Held lock")
    monkeypatch.setattr(keyword, "WRITER_WAIT_SECONDS", 0.2)
    with pytest.raises(keyword.WriterBusy):
        update_documents([paper.pk])
    monkeypatch.setattr(keyword, "WRITER_WAIT_SECONDS", 30)
    threading.Timer(0.3, keyword._release, [other]).start()
    assert update_documents([paper.pk]) == 1  # waited for the other writer to let go
    assert ids(keyword_search("held lock")) == [paper.pk]


def test_an_index_missing_here_is_built_from_the_database(library):
    import shutil

    version = IndexState.objects.get(model=keyword.KEYWORD_STATE).version
    # As on a host that did not build it, or after the folder was cleared.
    shutil.rmtree(keyword._path(version))
    keyword._manifest_path(version).unlink()
    keyword._usable.clear()
    keyword._forget_reader()
    assert ids(keyword_search("contrastive")) == [library["title"].pk, library["abstract"].pk]
    assert IndexState.objects.get(model=keyword.KEYWORD_STATE).version == version  # same one
    assert keyword.check() == []
