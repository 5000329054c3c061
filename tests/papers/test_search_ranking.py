"""search(): fusion, filters, notes and conclusions, highlights, neighbours, bad input."""

import pytest

from papers.embeddings import UnknownModel
from papers.models import QuestionLink
from papers.search import (
    SearchError,
    candidates_for_question,
    fuse,
    near_duplicates,
    search,
    similar_papers,
)
from tests.factories import make_note, make_paper, make_question, make_technique


def titles(results):
    return [result.paper.title for result in results]


def test_fusion_ranks_an_item_found_by_both_lists_above_items_found_by_one():
    keyword = [("a", 12.0), ("b", 7.0), ("c", 2.0)]
    dense = [("c", 0.9), ("d", 0.8), ("a", 0.5)]
    fused = fuse(keyword, dense)
    assert [item for item, _ in fused] == ["a", "b", "c", "d"]
    assert fused[0][1] == pytest.approx(0.7 * 1.0 + 0.3 * 0.0)
    assert dict(fused)["c"] == pytest.approx(0.7 * 0.0 + 0.3 * 1.0)
    assert dict(fused)["b"] == pytest.approx(0.7 * 0.5)


def test_fusion_puts_scores_of_any_scale_on_one_and_weights_them():
    keyword = [("a", 0.001), ("b", 0.0005)]  # ts_rank-sized
    dense = [("b", 0.61), ("a", 0.60)]
    assert [item for item, _ in fuse(keyword, dense)] == ["a", "b"]
    assert [item for item, _ in fuse(keyword, dense, keyword_weight=0.2)] == ["b", "a"]
    assert fuse([("a", 3.0)], []) == [("a", pytest.approx(0.7))]


def test_hybrid_puts_the_paper_both_retrievers_agree_on_first(db, fake_models, on_commit):
    with on_commit():
        make_paper(title="Diffusion models", abstract="Denoising score matching for images")
        both = make_paper(title="Latent diffusion", abstract="Diffusion in a latent space")
        make_paper(title="Autoencoders", abstract="Latent space compression")
    results = search("latent diffusion", k=3)
    assert titles(results)[0] == both.title
    assert results[0].keyword_rank and results[0].dense_rank
    assert results[0].score > results[1].score


def test_filters_by_year_tag_ring_note_and_relevance(db, fake_models, on_commit, bob, alice):
    with on_commit():
        old = make_paper(title="Transformers 2017", year=2017, tags=["nlp"])
        new = make_paper(title="Transformers 2023", year=2023, tags=["vision"])
        make_note(paper=new, author=bob, relevance=5)
        make_note(paper=old, author=alice, relevance=2)
        technique = make_technique(name="Vision transformers", ring="trial")
        old.techniques.add(technique)

    def found(**filters):
        return titles(search("transformers", filters=filters, k=10))

    assert sorted(found()) == sorted([new.title, old.title])
    assert found(year_from=2020) == [new.title]
    assert found(year_to=2020) == [old.title]
    assert found(tag="NLP") == [old.title]
    assert found(ring="trial") == [old.title]
    assert found(has_note_by=bob) == [new.title]
    assert found(min_relevance=3) == [new.title]
    assert found(has_note_by=alice, min_relevance=3) == []
    assert search("transformers", mode="dense", filters={"year_from": 2020}, k=5)[0].paper == new


def test_a_note_makes_its_paper_a_hit_and_the_snippet_shows_the_note(
    db, fake_models, on_commit, bob
):
    paper = make_paper(title="Mamba", abstract="Selective state spaces")
    with on_commit():
        make_note(paper=paper, author=bob, key_insight="Hardware-aware parallel scan is the trick")
    [result] = search("parallel scan", mode="keyword")
    assert result.paper == paper
    assert result.highlights["source"] == "notes"
    assert "<mark>parallel</mark> <mark>scan</mark>" in result.highlights["snippet"]


def test_a_question_conclusion_makes_its_linked_papers_hits(db, fake_models, on_commit):
    paper = make_paper(title="Retrieval-augmented generation")
    question = make_question(question="Does retrieval reduce hallucination?")
    with on_commit():
        QuestionLink.objects.create(
            question=question, paper=paper, stance="supports", rationale="Cited"
        )
    assert search("grounding citations", mode="keyword") == []
    with on_commit():
        question.conclusion = "Yes, grounding with citations helps on open-domain QA"
        question.save()
    assert titles(search("grounding citations", mode="keyword")) == [paper.title]


def test_highlights_are_html_escaped_before_marking(db, fake_models, on_commit):
    with on_commit():
        make_paper(title="<script>alert(1)</script> Attention", abstract="a & b attention <b>")
    [result] = search("attention", mode="keyword")
    assert result.highlights["title"] == (
        "&lt;script&gt;alert(1)&lt;/script&gt; <mark>Attention</mark>"
    )
    assert result.highlights["snippet"] == "a &amp; b <mark>attention</mark> &lt;b&gt;"


def test_similar_papers_excludes_the_paper_itself(db, fake_models, on_commit):
    with on_commit():
        paper = make_paper(title="Sparse attention patterns for long documents")
        near = make_paper(title="Sparse attention for long documents")
        make_paper(title="Reinforcement learning from human feedback")
    results = similar_papers(paper, k=2)
    assert titles(results)[0] == near.title
    assert paper not in [r.paper for r in results]


def test_question_candidates_leave_out_papers_already_linked(db, fake_models, on_commit):
    question = make_question(question="Which quantisation keeps accuracy?")
    with on_commit():
        linked = make_paper(title="Quantisation aware training")
        candidate = make_paper(title="Post-training quantisation")
        QuestionLink.objects.create(
            question=question, paper=linked, stance="context", rationale="Cited"
        )
    assert titles(candidates_for_question(question)) == [candidate.title]


def test_near_duplicates_pairs_papers_with_nearly_equal_vectors(db, fake_models, on_commit):
    with on_commit():
        first = make_paper(title="Deep residual learning", abstract="Residual connections")
        second = make_paper(title="Deep Residual Learning", abstract="residual connections")
        make_paper(title="Something else entirely")
    assert near_duplicates(threshold=0.99) == [(first, second, pytest.approx(1.0))]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"query": "  "}, "Type something"),
        ({"query": "x" * 1001}, "limited to 1000"),
        ({"query": "x", "k": 0}, "k must be"),
        ({"query": "x", "k": 101}, "k must be"),
        ({"query": "x", "k": "10"}, "k must be"),
        ({"query": "x", "mode": "fuzzy"}, "Unknown mode"),
        ({"query": "x", "filters": {"colour": "red"}}, "Unknown filters: colour"),
        ({"query": "x", "filters": {"year_from": 2020, "year_to": 2010}}, "after year_to"),
        ({"query": "x", "filters": {"year_from": "2020"}}, "must be a year"),
        ({"query": "x", "filters": {"min_relevance": 9}}, "min_relevance"),
    ],
)
def test_bad_input_is_a_clear_error(db, fake_models, kwargs, message):
    query = kwargs.pop("query")
    with pytest.raises(SearchError, match=message):
        search(query, **kwargs)


def test_unknown_model_lists_the_configured_ones(db, fake_models):
    with pytest.raises(UnknownModel, match="'nope'; configured models: bow, words"):
        search("x", model="nope")


def test_a_narrow_filter_finds_its_paper_below_the_unfiltered_candidates(db, fake_models):
    from papers import keyword
    from papers.models import Paper
    from papers.search import FILTER_OVERFETCH, MIN_CANDIDATES
    from papers.tasks import reindex_model

    many = MIN_CANDIDATES * FILTER_OVERFETCH + 20
    Paper.objects.bulk_create(
        Paper(title=f"Attention attention variant {n}", year=2020) for n in range(many)
    )
    rare = make_paper(title="A note on attention", abstract="Mostly about pruning", year=1999)
    keyword.update_documents()
    reindex_model("bow")
    for mode in ("keyword", "dense", "hybrid"):
        assert titles(search("attention", mode=mode, filters={"year_to": 2000})) == [rare.title]
        assert len(search("attention", mode=mode, filters={"year_from": 2000}, k=20)) == 20
