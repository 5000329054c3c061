"""Embedding throughput: raw SentenceTransformer.encode vs Assay's bulk-import path.

Same texts (ACLSum titles + abstracts and titles + introductions), same model object, same
batch size, same run. Assay's path is what an import triggers once its transaction commits:
the papers.tasks.index_papers task (read papers, hash texts, encode, store vectors, update the
faiss index). Each side runs twice, alternating; the faster run of each is reported.

    .venv/bin/python bench/embedding_throughput.py [--model minilm] [--papers 500]
"""

import argparse
import time

from _setup import aclsum_documents, django_in_scratch_dir, machine


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm", choices=["minilm", "wordllama"])
    parser.add_argument("--papers", type=int, default=500, help="texts to embed (max 500)")
    args = parser.parse_args()
    django_in_scratch_dir("throughput")

    from django.conf import settings

    from papers.embeddings import get_embedder
    from papers.models import Paper, PaperEmbedding
    from papers.models.search import embedding_text
    from papers.tasks import index_papers

    documents = aclsum_documents()
    rows = [Paper(title=d["title"], abstract=d["abstract"]) for d in documents]
    rows += [
        Paper(title=d["title"] + " (introduction)", abstract=d["introduction"]) for d in documents
    ]
    papers = Paper.objects.bulk_create(rows[: args.papers])  # no signals: nothing embedded yet
    ids = [paper.pk for paper in papers]
    texts = [embedding_text(paper) for paper in papers]
    batch_size = settings.ASSAY_EMBEDDING_BATCH_SIZE

    embedder = get_embedder(args.model)
    embedder.encode(texts[:batch_size])  # load and warm up outside the timings
    backend = embedder._load()

    def raw():
        if args.model == "minilm":
            backend.model.encode(texts, batch_size=batch_size, normalize_embeddings=True)
        else:
            backend.model.embed(texts, norm=True, batch_size=batch_size)

    def assay():
        PaperEmbedding.objects.for_model(args.model).delete()
        index_papers.apply(args=(args.model, ids), throw=True)
        assert PaperEmbedding.objects.for_model(args.model).count() == len(ids)

    timings = {"raw encode": [], "Assay index_papers": []}
    for _ in range(2):
        for name, run in (("raw encode", raw), ("Assay index_papers", assay)):
            start = time.perf_counter()
            run()
            timings[name].append(time.perf_counter() - start)

    print(f"model {args.model} on {embedder.device}, {len(texts)} texts, batch size {batch_size}")
    print(f"  {machine()}")
    rates = {}
    for name, seconds in timings.items():
        rates[name] = len(texts) / min(seconds)
        runs = ", ".join(f"{s:.1f}s" for s in seconds)
        print(f"  {name:<20} {rates[name]:8.1f} texts/s   (runs: {runs})")
    ratio = rates["Assay index_papers"] / rates["raw encode"]
    print(f"  Assay / raw          {ratio:8.1%}   (target >= 90%)")
    return ratio


if __name__ == "__main__":
    main()
