"""MiniLM embeds search queries through an ONNX export of the packaged model: made once per
machine without a download, giving torch's vectors, and when it cannot be made, search still
works through torch and the log says why."""

import json
import logging
import subprocess
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from papers import embeddings, query_encoder
from tests.factories import make_paper
from tests.services import PYTHON, ROOT, service_env

pytestmark = pytest.mark.slow

DATA = django_settings.BASE_DIR.parent / "shared" / "data"
ATOM = "{http://www.w3.org/2005/Atom}"


def _real_titles():
    """Titles of the CSL-JSON and arXiv Atom files in shared/data (66 real papers)."""
    items = json.loads((DATA / "manuscript-references.csl.json").read_text(encoding="utf-8"))
    titles = [item["title"] for item in items if item.get("title")]
    feed = ElementTree.parse(DATA / "arxiv-deep-dream.atom.xml").getroot()
    titles += [
        " ".join(entry.findtext(f"{ATOM}title").split()) for entry in feed.iter(f"{ATOM}entry")
    ]
    return titles


@pytest.fixture(scope="module")
def model_cache(tmp_path_factory):
    """One export for the module's tests (it takes seconds), in a folder of its own."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture
def minilm(settings, model_cache, monkeypatch):
    """MiniLM as the only model, in a process that has loaded nothing yet."""
    settings.ASSAY_EMBEDDING_MODELS = ["minilm"]
    settings.ASSAY_EMBEDDING_DEFAULT_MODEL = "minilm"
    settings.ASSAY_MODEL_CACHE_DIR = model_cache
    monkeypatch.setattr(embeddings, "_loaded", {})
    return settings


def _cosines(embedder, texts):
    queries = np.vstack([embedder.encode_query(text) for text in texts])
    documents = embedder.encode(texts)  # torch: how the stored paper vectors are made
    return (queries * documents).sum(axis=1)


@pytest.mark.parametrize("backend", ["onnx", "onnx-int8"])
def test_onnx_query_vectors_match_torch_on_real_titles(minilm, backend):
    minilm.ASSAY_QUERY_EMBEDDING = backend
    embedder = embeddings.get_embedder("minilm")
    titles = _real_titles()
    assert len(titles) > 60
    cosines = _cosines(embedder, titles)
    assert isinstance(embedder.load_query_backend(), query_encoder.OnnxQueryEncoder)
    assert cosines.min() >= 0.99
    if backend == "onnx":  # the float32 graph is torch's own computation
        typed = [" ".join(title.split()[:3]) for title in titles]
        assert _cosines(embedder, typed).min() >= 0.999


def test_the_export_is_made_once_and_then_read_from_the_cache(minilm, monkeypatch):
    embeddings.get_embedder("minilm").encode_query("first process")
    [folder] = [path for path in minilm.ASSAY_MODEL_CACHE_DIR.iterdir() if path.is_dir()]
    assert sorted(path.name for path in folder.iterdir()) == [
        "key.json",
        "model-int8.onnx",
        "model.onnx",
    ]
    assert json.loads((folder / "key.json").read_text())["model"] == "minilm"

    def no_export(*args):
        raise AssertionError("exported again")

    monkeypatch.setattr(query_encoder, "_export_fp32", no_export)
    monkeypatch.setattr(embeddings, "_loaded", {})  # the next process
    embedder = embeddings.get_embedder("minilm")
    embedder.encode_query("second process")
    assert isinstance(embedder.load_query_backend(), query_encoder.OnnxQueryEncoder)


def test_a_new_library_version_exports_afresh(minilm, monkeypatch):
    before = query_encoder.cache_dir("minilm", embeddings.minilm_path())
    real_versions = query_encoder.versions
    monkeypatch.setattr(query_encoder, "versions", lambda: {**real_versions(), "torch": "99.0"})
    after = query_encoder.cache_dir("minilm", embeddings.minilm_path())
    assert after != before and after.parent == before.parent


def test_search_uses_torch_and_logs_why_when_the_export_fails(
    minilm, tmp_path, monkeypatch, caplog, bob_client, on_commit
):
    import torch

    minilm.ASSAY_MODEL_CACHE_DIR = tmp_path / "no-export-here"

    def broken_export(*args, **kwargs):
        raise RuntimeError("exporter unavailable")

    monkeypatch.setattr(torch.onnx, "export", broken_export)
    with on_commit():
        make_paper(title="Neural machine translation by jointly learning to align and translate")
        make_paper(title="Protein structure prediction with deep learning")

    with caplog.at_level(logging.WARNING, logger="papers.embeddings"):
        response = bob_client.get("/api/v1/papers/search", {"q": "translating sentences"})
    assert response.status_code == 200
    assert response.json()[0]["title"].startswith("Neural machine translation")
    [warning] = [r for r in caplog.records if r.name == "papers.embeddings"]
    assert warning.levelno == logging.WARNING
    assert "queries use torch" in warning.getMessage()
    assert "exporter unavailable" in warning.getMessage()
    embedder = embeddings.get_embedder("minilm")
    assert not isinstance(embedder.load_query_backend(), query_encoder.OnnxQueryEncoder)
    assert not any(minilm.ASSAY_MODEL_CACHE_DIR.iterdir())  # no half-written export left


def test_the_torch_setting_never_exports(minilm, tmp_path, monkeypatch):
    minilm.ASSAY_QUERY_EMBEDDING = "torch"
    minilm.ASSAY_MODEL_CACHE_DIR = tmp_path / "models"
    monkeypatch.setattr(query_encoder, "export", pytest.fail)
    embedder = embeddings.get_embedder("minilm")
    vector = embedder.encode_query("graph neural networks")
    assert vector.shape == (384,)
    assert not minilm.ASSAY_MODEL_CACHE_DIR.exists()


def test_reindex_exports_so_that_no_search_waits_for_it(minilm, db, tmp_path, monkeypatch):
    minilm.ASSAY_MODEL_CACHE_DIR = tmp_path / "models"
    older = minilm.ASSAY_MODEL_CACHE_DIR / "minilm-onnx-0123456789abcdef"  # an older torch's
    older.mkdir(parents=True)
    (older / "model.onnx").write_bytes(b"old export")
    call_command("reindex", "--model", "minilm", verbosity=0)
    [folder] = minilm.ASSAY_MODEL_CACHE_DIR.iterdir()  # the old export is deleted
    assert (folder / "model-int8.onnx").exists()

    monkeypatch.setattr(embeddings, "_loaded", {})  # a web process started after it
    monkeypatch.setattr(query_encoder, "_export_fp32", pytest.fail)
    embedder = embeddings.get_embedder("minilm")
    embedder.encode_query("graph neural networks")
    assert isinstance(embedder.load_query_backend(), query_encoder.OnnxQueryEncoder)


def test_a_process_that_finds_the_export_never_imports_torch(minilm, tmp_path):
    # A web process then warms up in a fraction of a second instead of loading torch and the
    # sentence-transformers model (seconds, and their memory).
    embeddings.get_embedder("minilm").encode_query("export it")
    (tmp_path / "models").symlink_to(minilm.ASSAY_MODEL_CACHE_DIR)
    code = (
        "import sys, django; django.setup(); from papers import embeddings; "
        "vector = embeddings.get_embedder('minilm').encode_query('graph neural networks'); "
        "print(vector.shape, type(embeddings.get_embedder('minilm').load_query_backend()).__name__,"
        " 'torch' in sys.modules)"
    )
    env = service_env(
        ASSAY_DATA_DIR=str(tmp_path),
        DATABASE_URL=None,
        REDIS_URL=None,
        ASSAY_EMBEDDING_MODELS="minilm",
        ASSAY_QUERY_EMBEDDING="onnx-int8",
    )
    result = subprocess.run(
        [PYTHON, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["(384,)", "OnnxQueryEncoder", "False"]
