"""Fast query embedding: the packaged MiniLM exported to ONNX and run by onnxruntime.

A search embeds one short text; through torch and sentence-transformers that costs 12-25 ms on
2 CPU cores (more under load), through onnxruntime 1-3 ms. Nothing is downloaded: the ONNX
file is exported from the installed model with torch.onnx, once per machine, and kept under
`settings.ASSAY_MODEL_CACHE_DIR` in a folder named by a digest of everything that could change
the result (model, package and library versions, recipe), so an upgrade exports afresh.

Queries are tokenised with the model's own fast tokenizer (`tokenizers`, as sentence-transformers
does, truncated at its max_seq_length) and mean-pooled over the attention mask and L2-normalised
like sentence-transformers' Pooling and Normalize modules, so query vectors sit in the same
space as the document vectors torch computed.

"onnx-int8" is the same graph with its weight matrices quantised to int8 (dynamic quantisation,
per output channel), except the feed-forward output projections: their inputs (after GELU) have
outliers that int8 rounds badly (cosine to torch 0.989 with them quantised, 0.996 without).
"""

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np
from django.conf import settings

logger = logging.getLogger(__name__)

# Bump when the export or quantisation recipe changes: caches of the old recipe are ignored.
RECIPE = 1
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# Measured by bench/query_embedding.py on 2 cores: a query is a few dozen tokens, and a second
# thread costs more in hand-over than it saves, most of all when the other core is busy.
INTRA_OP_THREADS = 1
# An export whose vectors drift further than this from torch's on these texts is not used.
MIN_COSINE = 0.99
PROBES = (
    "graph neural networks",
    "Attention is all you need",
    "We study instruction tuning of large language models on a mixture of public datasets and "
    "report gains on held-out reasoning benchmarks.",
)

_export_lock = threading.Lock()


class ExportFailed(RuntimeError):
    """The model could not be exported to ONNX, or its export does not match torch."""


def versions():
    """What the exported file depends on, beside the model's own files (read from the installed
    packages' metadata: importing torch only to learn its version would cost a web process
    seconds)."""
    from importlib.metadata import version

    packages = (
        "torch",
        "transformers",
        "sentence-transformers",
        "onnx",
        "onnxruntime",
        "tokenizers",
    )
    return {"recipe": RECIPE, **{package: version(package) for package in packages}}


def cache_key(model_name, model_dir):
    """Model name, its weights' size and modification time, and the library versions."""
    model_dir = Path(model_dir)
    files = {
        path.name: [path.stat().st_size, path.stat().st_mtime_ns]
        for path in sorted(model_dir.iterdir())
        if path.is_file()
    }
    key = {"model": model_name, "path": str(model_dir), "files": files, **versions()}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return key, digest


def cache_dir(model_name, model_dir):
    _, digest = cache_key(model_name, model_dir)
    return Path(settings.ASSAY_MODEL_CACHE_DIR) / f"{model_name}-onnx-{digest}"


def _tokenizer(model_dir, max_length):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(model_dir) / "tokenizer.json"))
    # tokenizer.json says 128 and pads to it; sentence-transformers truncates at max_seq_length
    # and pads a batch to its longest text only.
    tokenizer.enable_truncation(max_length)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0, pad_token="[PAD]")
    return tokenizer


def _max_seq_length(model_dir):
    config = Path(model_dir) / "sentence_bert_config.json"
    return int(json.loads(config.read_text()).get("max_seq_length", 256))


class OnnxQueryEncoder:
    """`encode(texts)` -> (n, dim) L2-normalised float32 vectors, like the torch model's."""

    device = "cpu"

    def __init__(self, model_file, model_dir, threads=INTRA_OP_THREADS):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.model_file = Path(model_file)
        self.session = onnxruntime.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = _tokenizer(model_dir, _max_seq_length(model_dir))
        self.dim = int(self.encode(["dimension probe"]).shape[1])

    def encode(self, texts, batch_size=None):
        texts = list(texts)
        # One text (a query) skips encode_batch's thread pool: on 2 cores it only adds latency.
        if len(texts) == 1:
            encodings = [self.tokenizer.encode(texts[0])]
        else:
            encodings = self.tokenizer.encode_batch(texts)
        feeds = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        (hidden,) = self.session.run(None, feeds)
        # sentence-transformers' mean pooling: average of the token vectors the mask keeps.
        mask = feeds["attention_mask"][:, :, None].astype(np.float32)
        pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.divide(pooled, norms, out=pooled, where=norms > 0).astype(np.float32)


def _export_fp32(model_dir, target):
    """torch.onnx export of the transformer (last hidden state; pooling is done in numpy)."""
    import torch
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_dir), device="cpu")
    transformer = model[0].auto_model.eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            output = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return output.last_hidden_state

    # A padded batch of two, so that the traced graph keeps the attention mask.
    sample = model.tokenizer(list(PROBES[:2]), padding=True, return_tensors="pt")
    dynamic = {name: {0: "batch", 1: "tokens"} for name in (*INPUTS, "last_hidden_state")}
    with torch.no_grad(), warnings.catch_warnings():
        # The tracer warns about shape checks it freezes; none matters for an encoder whose
        # mask is always given (the exported file is checked against torch afterwards).
        warnings.simplefilter("ignore")
        # dynamo=False: torch 2.13's default exporter needs onnxscript, which Assay does not
        # install; the TorchScript exporter is built in and works offline.
        torch.onnx.export(
            LastHiddenState(),
            tuple(sample[name] for name in INPUTS),
            str(target),
            dynamo=False,
            input_names=list(INPUTS),
            output_names=["last_hidden_state"],
            dynamic_axes=dynamic,
            opset_version=17,
        )
    return model


def _quantise(source, target):
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source), load_external_data=False).graph
    feed_forward_out = [
        node.name
        for node in graph.node
        if node.op_type == "MatMul"
        and "/output/dense/" in node.name
        and "/attention/" not in node.name
    ]
    # The quantiser logs a line per tensor it skips on the root logger: keep those out.
    quiet = _FromPackage("onnxruntime")
    logging.getLogger().addFilter(quiet)
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=feed_forward_out,
        )
    finally:
        logging.getLogger().removeFilter(quiet)


class _FromPackage(logging.Filter):
    def __init__(self, package):
        super().__init__()
        self.folder = f"{os.sep}{package}{os.sep}"

    def filter(self, record):
        return self.folder not in record.pathname


def _check_against_torch(model, folder, model_dir):
    """Both exported files must give torch's vectors (cosine >= MIN_COSINE) on the probes."""
    reference = model.encode(list(PROBES), normalize_embeddings=True, show_progress_bar=False)
    for name in (FP32_FILE, INT8_FILE):
        vectors = OnnxQueryEncoder(folder / name, model_dir).encode(PROBES)
        cosine = float((vectors * reference).sum(axis=1).min())
        if cosine < MIN_COSINE:
            raise ExportFailed(f"{name}: cosine to torch {cosine:.4f} < {MIN_COSINE}")


def export(model_name, model_dir):
    """Export (and quantise) `model_dir` into its cache folder unless already there; returns it.

    Safe with several processes at once: each writes a private folder renamed into place.
    """
    folder = cache_dir(model_name, model_dir)
    with _export_lock:
        if (folder / "key.json").exists():
            return folder
        folder.parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
            logger.info("exporting embedding model %s to ONNX in %s", model_name, folder)
            model = _export_fp32(model_dir, scratch / FP32_FILE)
            _quantise(scratch / FP32_FILE, scratch / INT8_FILE)
            _check_against_torch(model, scratch, model_dir)
            key, _ = cache_key(model_name, model_dir)
            (scratch / "key.json").write_text(json.dumps(key, indent=1, sort_keys=True))
            scratch.chmod(0o755)  # mkdtemp's 0700 would hide it from other users' processes
            try:
                os.rename(scratch, folder)
            except OSError:  # another process finished first: use its folder
                if not (folder / "key.json").exists():
                    raise
        except ExportFailed:
            raise
        except Exception as error:
            raise ExportFailed(f"{type(error).__name__}: {error}") from error
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        # Exports for older versions are dead weight (160 MB each); a process still using one
        # has its session in memory already.
        for stale in folder.parent.glob(f"{model_name}-onnx-*"):
            if stale != folder:
                shutil.rmtree(stale, ignore_errors=True)
    return folder


def load(model_name, model_dir, backend):
    """The ONNX query encoder for `backend` ("onnx" or "onnx-int8"), exporting if needed;
    raises ExportFailed when there is none."""
    folder = export(model_name, model_dir)
    model_file = folder / (INT8_FILE if backend == "onnx-int8" else FP32_FILE)
    try:
        return OnnxQueryEncoder(model_file, model_dir)
    except Exception as error:  # a damaged cache file, an onnxruntime that cannot run it
        raise ExportFailed(f"{model_file}: {type(error).__name__}: {error}") from error
