"""Search latency at 100,000 papers (HTTP end to end) and exact vs HNSW at 1,000,000 vectors.

Part 1 puts 100,000 papers in a fresh database: titles and abstracts recombined from ACLSum
sentences (so keyword search has real text to rank), keyword documents built by Assay's own
refresh, and synthetic 384-d vectors stored as MiniLM vectors (embedding 100k abstracts on 2
CPU cores would take over an hour). The query path is real end to end: an HTTP GET of the
search page (htmx fragment) through Django's test client, MiniLM embedding the query, faiss,
FTS5, fusion, the database re-read and template rendering. SQLite by default; with
DATABASE_URL naming an empty scratch PostgreSQL database it runs there and also compares the
stored, GIN-indexed tsvector with one computed per query.

Part 2 builds a flat and an HNSW index over 1,000,000 synthetic vectors and reports per-query
latency and HNSW recall@10 against exact search. Synthetic vectors are topic mixtures (each a
weighted sum of 3 of 1,000 random topic directions plus noise, normalised), which gives the
neighbourhood structure of document embeddings; uniform random vectors have no near neighbours
to find. The HNSW index is cached under var/bench/ so a second run skips the ~5 minute build.

    .venv/bin/python bench/search_latency.py [--papers 100000] [--vectors 1000000] [--queries 200]
"""

import argparse
import gc
import random
import time
from pathlib import Path

import numpy as np
from _setup import ROOT, aclsum_documents, django_in_scratch_dir, machine, percentile

DIM = 384


def topic_vectors(count, rng, topics):
    """`count` normalised topic-mixture vectors."""
    picks = rng.integers(0, len(topics), (count, 3))
    weights = rng.dirichlet([1.0, 1.0, 1.0], count).astype(np.float32)
    vectors = (topics[picks] * weights[:, :, None]).sum(axis=1)
    vectors += 0.15 * rng.standard_normal((count, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors


def figures(seconds):
    millis = [1000 * s for s in seconds]
    return f"p50 {percentile(millis, 50):7.1f} ms   p95 {percentile(millis, 95):7.1f} ms"


def part_one(args, rng, topics):
    from django.contrib.auth.models import Group, User
    from django.db import connection
    from django.test import Client
    from django.urls import reverse

    from papers import keyword, vector_index
    from papers.embeddings import get_embedder
    from papers.models import Paper, PaperEmbedding
    from papers.models.search import content_hash, embedding_text

    documents = aclsum_documents()
    sentences = [
        s for d in documents for s in (d["abstract"] + " " + d["introduction"]).split(" . ")
    ]
    pyrandom = random.Random(0)
    started = time.perf_counter()
    for start in range(0, args.papers, 5000):
        batch = []
        for number in range(start, min(start + 5000, args.papers)):
            source = pyrandom.choice(documents)
            title = f"{source['title']} ({number})"
            abstract = " . ".join(pyrandom.sample(sentences, 6))
            batch.append(Paper(title=title, abstract=abstract, year=1990 + number % 35))
        Paper.objects.bulk_create(batch)
    print(f"  inserted {args.papers} papers in {time.perf_counter() - started:.0f} s")

    started = time.perf_counter()
    keyword.refresh_documents()
    print(f"  keyword documents (FTS5) in {time.perf_counter() - started:.0f} s")

    started = time.perf_counter()
    papers = Paper.objects.only("pk", "title", "abstract").order_by("pk")
    for start in range(0, args.papers, 10000):
        chunk = list(papers[start : start + 10000])
        vectors = topic_vectors(len(chunk), rng, topics)
        PaperEmbedding.objects.bulk_create(
            (
                PaperEmbedding(
                    paper_id=paper.pk,
                    model="minilm",
                    dim=DIM,
                    vector=vector.tobytes(),
                    content_hash=content_hash(embedding_text(paper)),
                )
                for paper, vector in zip(chunk, vectors, strict=True)
            ),
            batch_size=2000,
        )
    state = vector_index.update_index("minilm")
    print(
        f"  vectors stored and {state.kind} index v{state.version} of {state.count} built in "
        f"{time.perf_counter() - started:.0f} s"
    )

    user = User.objects.create_user("bench", password="x")
    user.groups.add(Group.objects.get(name="Member"))
    client = Client(HTTP_HOST="localhost")  # an ALLOWED_HOSTS name
    client.force_login(user)
    url = reverse("papers:search")
    short = [" ".join(d["title"].split()[:3]) for d in documents]
    long = [d["summaries"]["challenge"] for d in documents]
    pyrandom.shuffle(short)
    pyrandom.shuffle(long)

    def timed(mode, queries):
        get_embedder("minilm")._queries.clear()  # every measured query embeds afresh
        seconds = []
        for query in queries:
            started = time.perf_counter()
            response = client.get(url, {"q": query, "mode": mode}, HTTP_HX_REQUEST="true")
            seconds.append(time.perf_counter() - started)
            assert response.status_code == 200
        return seconds

    timed("hybrid", short[:5])  # load MiniLM, the index and the templates
    embedder = get_embedder("minilm")
    encode = []
    for query in short[: args.queries]:
        started = time.perf_counter()
        embedder.encode([query])
        encode.append(time.perf_counter() - started)
    print(f"\n  GET /papers/search/ (htmx fragment, k=10) at {args.papers:,} papers, "
          f"{min(args.queries, len(short))} queries each")  # fmt: skip
    print(f"    {'mode':<8} {'short queries (3 words)':<38} long queries (ACLSum summaries)")
    for mode in ("hybrid", "keyword", "dense"):
        short_times = timed(mode, short[: args.queries])
        long_times = timed(mode, long[: args.queries])
        print(f"    {mode:<8} {figures(short_times):<38} {figures(long_times)}")
    print(f"    (of which MiniLM query embedding: {figures(encode)}; target: hybrid p95 < 50 ms)")
    if connection.vendor == "postgresql":
        stored_vs_on_the_fly(short[: args.queries])


def stored_vs_on_the_fly(queries):
    """PostgreSQL: the stored, GIN-indexed search_vector against one computed per query."""
    from django.contrib.postgres.search import SearchQuery, SearchRank

    from papers import keyword
    from papers.models import SearchDocument

    def on_the_fly(query):
        terms = keyword.query_terms(query)
        tsquery = SearchQuery(" | ".join(terms), search_type="raw", config=keyword.CONFIG)
        ranked = (
            SearchDocument.objects.annotate(document=keyword._VECTOR)
            .filter(document=tsquery)
            .annotate(rank=SearchRank("document", tsquery))
            .order_by("-rank")
            .values_list("pk", "rank")[:50]
        )
        return list(ranked)

    for name, run in (("stored + GIN", keyword.keyword_search), ("on the fly", on_the_fly)):
        seconds = []
        for query in queries:
            started = time.perf_counter()
            run(query)
            seconds.append(time.perf_counter() - started)
        print(f"    keyword query alone, {name:<13} {figures(seconds)}")


def part_two(args, rng, topics):
    from papers import vector_index
    from papers.models import IndexState

    cache = ROOT / "var" / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    params = f"{args.vectors}-m{vector_index.HNSW_M}-efc{vector_index.HNSW_EF_CONSTRUCTION}"
    cached = Path(cache / f"hnsw-{params}.faiss")
    flat = vector_index.new_index(IndexState.Kind.FLAT, DIM)
    hnsw = (
        None if not cached.exists() or args.no_cache else vector_index.faiss.read_index(str(cached))
    )
    build = None if hnsw is None else "cached"
    if hnsw is None:
        hnsw = vector_index.new_index(IndexState.Kind.HNSW, DIM)
        build = 0.0
    step = 100_000
    for start in range(0, args.vectors, step):
        vectors = topic_vectors(min(step, args.vectors - start), rng, topics)
        ids = np.arange(start, start + len(vectors), dtype=np.int64)
        flat.add_with_ids(vectors, ids)
        if build != "cached":
            started = time.perf_counter()
            hnsw.add_with_ids(vectors, ids)
            build += time.perf_counter() - started
        del vectors
        gc.collect()
    if build != "cached":
        vector_index.faiss.write_index(hnsw, str(cached))
        build = f"{build:.0f} s"
    queries = topic_vectors(args.queries, rng, topics)
    inner = vector_index.faiss.downcast_index(hnsw.index)

    def run(index, ef=None):
        if ef:
            inner.hnsw.efSearch = ef
        seconds, found = [], []
        for query in queries:
            started = time.perf_counter()
            _, ids = index.search(query.reshape(1, -1), 10)
            seconds.append(time.perf_counter() - started)
            found.append(ids[0])
        return seconds, found

    exact_seconds, exact = run(flat)
    print(f"\n  {args.vectors:,} synthetic {DIM}-d vectors, {args.queries} queries, k=10 "
          f"(HNSW M={vector_index.HNSW_M}, efConstruction={vector_index.HNSW_EF_CONSTRUCTION}, "
          f"build {build})")  # fmt: skip
    print(f"    exact (flat)          {figures(exact_seconds)}   recall@10 1.000")
    for ef in sorted({64, 128, 256, vector_index.HNSW_EF_SEARCH, 1024}):
        seconds, found = run(hnsw, ef)
        recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)])
        marker = "  <- configured" if ef == vector_index.HNSW_EF_SEARCH else ""
        print(f"    HNSW efSearch={ef:<6} {figures(seconds)}   recall@10 {recall:.3f}{marker}")
    print("    (target: p95 < 100 ms with recall@10 >= 0.95)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--no-cache", action="store_true", help="rebuild the HNSW index")
    args = parser.parse_args()
    django_in_scratch_dir("latency")
    rng = np.random.default_rng(0)
    topics = rng.standard_normal((1000, DIM)).astype(np.float32)
    print(f"Search latency ({args.papers:,} papers over HTTP; {args.vectors:,} vectors in faiss)")
    print(f"  {machine()}")
    if args.papers:
        part_one(args, rng, topics)
    if args.vectors:
        part_two(args, rng, topics)


if __name__ == "__main__":
    main()
