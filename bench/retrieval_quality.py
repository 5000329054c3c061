"""Retrieval quality on ACLSum: keyword-only vs dense-only vs hybrid, side by side.

ACLSum (pip install aclsum; the data ships in the wheel) has 250 ACL papers, each with three
human-written summaries (challenge, approach, outcome). The papers' titles and abstracts go in
the library through Assay's own indexing; each summary is a known-item query whose one relevant
paper is the one it summarises (750 queries). Queries go through papers.search.search(), the
function the web page, the API and `manage.py search` use. The hybrid fusion weight was chosen
on the train and val queries; the last columns are the test queries alone (held out). A last
row per model fuses the same keyword and dense candidates by plain reciprocal rank fusion.
Keyword and hybrid rows come twice: "before" with the old SQLite FTS5 keyword search
(bench/_fts5.py, the engine before Tantivy) and "after" with Tantivy, in the same run.
MiniLM's dense and hybrid rows are repeated per query embedding backend (documents are always
embedded by torch): torch, ONNX float32, ONNX int8 (ASSAY_QUERY_EMBEDDING).

    .venv/bin/python bench/retrieval_quality.py [--models minilm wordllama]
        [--query-embedding torch onnx onnx-int8]
"""

import argparse
import math
import time

from _setup import aclsum_documents, django_in_scratch_dir, machine

# Plain reciprocal rank fusion over the same candidates, printed beside the fusion Assay uses
# (docs/search.md says why hybrid is a weighted score fusion instead).
RRF = "rrf k=60"
RRF_K = 60


def rrf_ranking(query, model, k=10):
    from papers.keyword import keyword_search
    from papers.search import MIN_CANDIDATES, start_dense_search

    limit = max(MIN_CANDIDATES, 3 * k)
    dense = start_dense_search(query, model, limit)
    fused = {}
    for hits in (keyword_search(query, limit=limit).hits, dense.result()[0]):
        for rank, (pk, _) in enumerate(hits, start=1):
            fused[pk] = fused.get(pk, 0.0) + 1 / (RRF_K + rank)
    return [pk for pk, _ in sorted(fused.items(), key=lambda item: (-item[1], item[0]))[:k]]


def _metrics(ranks):
    """(nDCG@10, MRR@10, hits@10) from the rank of the one relevant paper (None: not in top 10)."""
    n = len(ranks)
    found = [rank for rank in ranks if rank]
    # One relevant paper per query: the ideal DCG is 1.
    ndcg = sum(1 / math.log2(rank + 1) for rank in found) / n
    return ndcg, sum(1 / rank for rank in found) / n, len(found) / n


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["minilm", "wordllama"])
    parser.add_argument(
        "--query-embedding",
        nargs="+",
        default=["torch", "onnx", "onnx-int8"],
        choices=["torch", "onnx", "onnx-int8"],
        help="MiniLM query backends to compare (each gets its own dense and hybrid rows)",
    )
    args = parser.parse_args()
    django_in_scratch_dir("quality")

    import _fts5
    from aclsum import ACLSum
    from django.conf import settings

    from papers import search as search_module
    from papers.embeddings import get_embedder
    from papers.keyword import update_documents
    from papers.models import Paper
    from papers.search import search
    from papers.tasks import reindex_model

    documents = aclsum_documents()
    held_out = {document.id for document in ACLSum("test")}
    papers = Paper.objects.bulk_create(
        Paper(title=d["title"], abstract=d["abstract"], bibtex_key=d["id"]) for d in documents
    )
    update_documents()
    _fts5.build()
    engines = {"before": _fts5.keyword_search, "after": search_module.keyword_search}
    queries = [
        (document["id"] in held_out, summary, paper.pk)
        for document, paper in zip(documents, papers, strict=True)
        for summary in document["summaries"].values()
    ]
    tested = sum(1 for is_test, _, _ in queries if is_test)
    print(f"ACLSum known-item retrieval: {len(papers)} papers, {len(queries)} queries (k=10)")
    print(f"  {machine()}")
    print(
        f"  {'model':<10} {'mode':<26} {'nDCG@10':>8} {'MRR@10':>8} {'hits@10':>8}"
        f"   test only ({tested}): {'nDCG@10':>8} {'MRR@10':>8}   seconds"
    )
    for model in args.models:
        started = time.perf_counter()
        reindex_model(model)
        seconds = time.perf_counter() - started
        print(f"  ({model}: {len(papers)} papers embedded in {seconds:.0f} s)")
        backends = args.query_embedding if model == "minilm" else [None]
        rows = [("keyword", "before", None), ("keyword", "after", None)]
        rows += [("dense", "after", backends[0]), ("hybrid", "before", backends[0])]
        rows += [("hybrid", "after", backends[0]), (RRF, "after", backends[0])]
        rows += [(mode, "after", b) for b in backends[1:] for mode in ("dense", "hybrid")]
        for mode, engine, backend in rows:
            if backend is not None:
                settings.ASSAY_QUERY_EMBEDDING = backend
                get_embedder(model).reset_query_backend()
            started = time.perf_counter()
            ranks, test_ranks = [], []
            search_module.keyword_search = engines[engine]
            for is_test, query, relevant in queries:
                if mode == RRF:
                    ranked = rrf_ranking(query, model)
                else:
                    ranked = [r.paper.pk for r in search(query, model=model, mode=mode, k=10)]
                rank = ranked.index(relevant) + 1 if relevant in ranked else None
                ranks.append(rank)
                if is_test:
                    test_ranks.append(rank)
            search_module.keyword_search = engines["after"]
            label = mode if mode in ("dense", RRF) else f"{mode} {engine}"
            if backend is not None and len(backends) > 1:
                label += f" {backend}"
            ndcg, mrr, hits = _metrics(ranks)
            test_ndcg, test_mrr, _ = _metrics(test_ranks)
            print(
                f"  {model:<10} {label:<26} {ndcg:8.3f} {mrr:8.3f} {hits:8.3f}"
                f"   {'':>17}{test_ndcg:8.3f} {test_mrr:8.3f}"
                f"   {time.perf_counter() - started:6.0f}"
            )


if __name__ == "__main__":
    main()
