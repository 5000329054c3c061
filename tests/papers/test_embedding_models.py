"""The embedding model registry: names from settings, separate vectors and indexes per model."""

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from papers import embeddings, vector_index
from papers.embeddings import UnknownModel, embed_papers, get_embedder, model_specs
from papers.models import IndexState, PaperEmbedding
from papers.search import search
from tests.factories import make_paper
from tests.papers import search_support


def test_settings_name_builtin_models_and_local_paths(settings):
    settings.ASSAY_EMBEDDING_MODELS = ["minilm", "wordllama", " mine = /models/mine "]
    specs = model_specs()
    assert list(specs) == ["minilm", "wordllama", "mine"]
    assert (specs["mine"].kind, specs["mine"].path) == ("sentence-transformers", "/models/mine")
    settings.ASSAY_EMBEDDING_DEFAULT_MODEL = "gone"
    # An error naming the variable, not a silent switch to another model.
    with pytest.raises(ImproperlyConfigured, match="ASSAY_EMBEDDING_DEFAULT_MODEL 'gone'"):
        embeddings.default_model_name()


def test_a_bad_settings_entry_says_what_is_expected(settings):
    settings.ASSAY_EMBEDDING_MODELS = ["bert"]
    with pytest.raises(ValueError, match="neither a built-in model"):
        model_specs()


def test_unknown_model_names_the_configured_ones(settings):
    settings.ASSAY_EMBEDDING_MODELS = ["minilm", "wordllama"]
    with pytest.raises(UnknownModel, match="'e5'; configured models: minilm, wordllama"):
        get_embedder("e5")


def test_each_model_has_its_own_vectors_and_index(db, fake_models, on_commit, settings):
    settings.ASSAY_EMBEDDING_MODELS = ["bow=/fake/bow", "wordllama"]
    with on_commit():
        paper = make_paper(title="Instruction tuning", abstract="Fine-tuning on instructions")
    dims = dict(PaperEmbedding.objects.filter(paper=paper).values_list("model", "dim"))
    assert dims == {"bow": search_support.FAKE_DIM, "wordllama": 256}
    states = {s.model: s.version for s in IndexState.objects.all()}
    # Each model's paper and passage index, and the keyword index (no model's).
    assert states == {
        "bow": 1,
        "wordllama": 1,
        "bow+passages": 1,
        "wordllama+passages": 1,
        "keyword index": 1,
    }
    assert vector_index.current_index("wordllama").index.d == 256
    for model in ("bow", "wordllama"):
        [hit] = search("instruction tuning", model=model, mode="dense", k=1)
        assert hit.paper == paper
    with pytest.raises(CommandError, match="configured models: bow, wordllama"):
        call_command("reindex", "--model", "minilm")


def test_unchanged_papers_are_not_embedded_again(db, fake_models):
    make_paper(title="Chain of thought")
    assert embed_papers("bow") == 1
    assert embed_papers("bow") == 0
    assert embed_papers("bow", force=True) == 1


def test_wordllama_loads_offline_and_returns_unit_vectors(settings):
    settings.ASSAY_EMBEDDING_MODELS = ["wordllama"]
    vectors = get_embedder("wordllama").encode(["graph neural networks", "", "attention"])
    assert vectors.shape == (3, 256) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[[0, 2]], axis=1), 1.0, atol=1e-5)
    assert np.isfinite(vectors).all()  # an empty text is a zero vector, not NaN


@pytest.mark.slow
def test_minilm_loads_offline_once_and_ranks_by_meaning(settings):
    settings.ASSAY_EMBEDDING_MODELS = ["minilm"]
    embedder = get_embedder("minilm")
    assert get_embedder() is embedder  # loaded once per process
    query, related, unrelated = embedder.encode(
        ["neural machine translation", "translating text with neural networks", "protein folding"]
    )
    assert embedder.dim == 384
    assert float(query @ related) > float(query @ unrelated) + 0.2


def test_the_query_cache_keeps_the_queries_used_most_recently(monkeypatch):
    monkeypatch.setattr(embeddings, "QUERY_CACHE_SIZE", 2)
    embedder = embeddings.Embedder(embeddings.ModelSpec(name="bow", kind="sentence-transformers"))
    encoded = []
    backend = search_support.BagOfWordsBackend()
    monkeypatch.setattr(backend, "encode", lambda texts, _size: encoded.extend(texts) or [[1.0]])
    embedder._backend = backend
    first = embedder.encode_query("first")
    embedder.encode_query("second")
    assert embedder.encode_query("first") is first  # remembered, and now the most recent
    embedder.encode_query("third")  # evicts "second", the least recently used
    embedder.encode_query("first")
    assert encoded == ["first", "second", "third"]
    assert not first.flags.writeable
