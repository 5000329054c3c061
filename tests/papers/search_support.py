"""Shared by the search tests: a fast deterministic embedder and settings that use it (its
fixtures are registered for every test in tests/conftest.py)."""

import hashlib
import re

import numpy as np
import pytest

from papers import embeddings

FAKE_DIM = 64


class BagOfWordsBackend:
    """Hashes words into a vector: texts sharing words are close, and it needs no model."""

    device = "cpu"
    dim = FAKE_DIM

    def encode(self, texts, batch_size):
        vectors = np.zeros((len(texts), FAKE_DIM), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                bucket = int(hashlib.md5(word.encode()).hexdigest(), 16) % FAKE_DIM
                vectors[row, bucket] += 1.0
        return vectors


@pytest.fixture
def fake_models(settings, monkeypatch):
    """Two configured models: "bow" (the fake, default) and "words" (another fake)."""
    real_loader = embeddings._load_backend

    def load(spec):
        if spec.path.startswith("/fake/"):
            return BagOfWordsBackend()
        return real_loader(spec)

    monkeypatch.setattr(embeddings, "_load_backend", load)
    settings.ASSAY_EMBEDDING_MODELS = ["bow=/fake/bow", "words=/fake/words"]
    settings.ASSAY_EMBEDDING_DEFAULT_MODEL = "bow"
    return ["bow", "words"]


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run the after-commit work (search updates) of what happens inside the block."""
    return lambda: django_capture_on_commit_callbacks(execute=True)
