from papers.models import IndexState, PaperEmbedding, SearchDocument
from papers.search import search
from tests.factories import make_paper
from tests.papers import search_support

fake_models = search_support.fake_models
on_commit = search_support.on_commit


def titles(results):
    return [result.paper.title for result in results]


def test_new_paper_is_embedded_indexed_and_findable(db, fake_models, on_commit):
    with on_commit():
        paper = make_paper(title="Sparse mixture of experts", abstract="Routing tokens to experts")
    assert PaperEmbedding.objects.filter(paper=paper).count() == 2
    assert SearchDocument.objects.filter(paper=paper).exists()
    state = IndexState.objects.get(model="bow")
    assert (state.version, state.count, state.status) == (1, 1, "done")
    assert titles(search("experts routing", mode="dense")) == ["Sparse mixture of experts"]
    assert titles(search("experts routing", mode="keyword")) == ["Sparse mixture of experts"]
