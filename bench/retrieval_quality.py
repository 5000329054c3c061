"""Retrieval quality on ACLSum: keyword-only vs dense-only vs hybrid, side by side.

ACLSum (pip install aclsum; the data ships in the wheel) has 250 ACL papers, each with three
human-written summaries (challenge, approach, outcome). The papers' titles and abstracts go in
the library through Assay's own indexing; each summary is a known-item query whose one relevant
paper is the one it summarises (750 queries). Queries go through papers.search.search(), the
function the web page, the API and `manage.py search` use.

    .venv/bin/python bench/retrieval_quality.py [--models minilm wordllama]
"""

import argparse
import math
import time

from _setup import aclsum_documents, django_in_scratch_dir, machine

MODES = ("keyword", "dense", "hybrid")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["minilm", "wordllama"])
    args = parser.parse_args()
    django_in_scratch_dir("quality")

    from papers.keyword import refresh_documents
    from papers.models import Paper
    from papers.search import search
    from papers.tasks import reindex_model

    documents = aclsum_documents()
    papers = Paper.objects.bulk_create(
        Paper(title=d["title"], abstract=d["abstract"], bibtex_key=d["id"]) for d in documents
    )
    refresh_documents()
    queries = [
        (aspect, summary, paper.pk)
        for document, paper in zip(documents, papers, strict=True)
        for aspect, summary in document["summaries"].items()
    ]
    print(f"ACLSum known-item retrieval: {len(papers)} papers, {len(queries)} queries (k=10)")
    print(f"  {machine()}")
    print(f"  {'model':<10} {'mode':<8} {'nDCG@10':>8} {'MRR@10':>8} {'hits@10':>8}   seconds")
    for model in args.models:
        started = time.perf_counter()
        reindex_model(model)
        print(
            f"  ({model}: {len(papers)} papers embedded in {time.perf_counter() - started:.0f} s)"
        )
        for mode in MODES:
            started = time.perf_counter()
            ndcg = mrr = hits = 0.0
            for _aspect, query, relevant in queries:
                ranked = [r.paper.pk for r in search(query, model=model, mode=mode, k=10)]
                if relevant in ranked:
                    rank = ranked.index(relevant) + 1
                    ndcg += 1 / math.log2(rank + 1)  # one relevant paper: ideal DCG is 1
                    mrr += 1 / rank
                    hits += 1
            n = len(queries)
            print(
                f"  {model:<10} {mode:<8} {ndcg / n:8.3f} {mrr / n:8.3f} {hits / n:8.3f}"
                f"   {time.perf_counter() - started:6.0f}"
            )


if __name__ == "__main__":
    main()
