"""Search latency at 100,000 papers, old keyword engine (FTS5) and new (Tantivy) side by side,
and exact vs HNSW at 1,000,000 vectors.

Part 1 puts 100,000 papers in a database: titles and abstracts recombined from ACLSum sentences
(so keyword search has real text to rank), both keyword indexes (Assay's Tantivy index, and the
FTS5 table of the engine before it, rebuilt by bench/_fts5.py for comparison) and synthetic
384-d vectors stored as MiniLM vectors (embedding 100k abstracts on 2 CPU cores would take over
an hour). The corpus is cached under var/bench/ (keyed by size and generator), so later runs
skip the build. It prints, for 3-word queries (title starts) and 30-word queries (ACLSum
summaries cut to 30 words), p50/p95 of the keyword query alone per engine, then of an HTTP GET
of the search fragment through Django's test client (MiniLM embedding the query, faiss, the
keyword engine, fusion, the database re-read, template rendering) in keyword and hybrid mode
per engine, then dense; the embedder's query cache is cleared before every query, so every
figure includes embedding the query. Last, the dense index at this size: exact against HNSW on
the same vectors, with HNSW recall@10. SQLite only (the old engine was FTS5 there).

Part 2 builds a flat and an HNSW index over 1,000,000 synthetic vectors and reports per-query
latency and HNSW recall@10 against exact search. Synthetic vectors imitate sentence embeddings:
a direction shared by all (MiniLM vectors are anisotropic: two unrelated texts score ~0.17), one
of 200 topics, one of its 50 sub-topics, and noise, normalised. Before the timings it prints the
mean cosine of each vector's nearest, 10th nearest and a random other vector, for 2,000
synthetic vectors beside 2,000 MiniLM embeddings of ACLSum sentences, so the reader can judge
the likeness. (The earlier generator, mixtures of 3 of 1,000 topics, put the nearest neighbour
too close and the 10th too far: 0.79 / 0.38 / 0.00 against MiniLM's 0.68 / 0.53 / 0.17.) The
HNSW index is cached under var/bench/, keyed by generator and parameters, so a second run skips
the build.

    .venv/bin/python bench/search_latency.py [--papers 100000] [--vectors 1000000]
        [--queries 200] [--part 1|2|both]
"""

import argparse
import gc
import random
import time
from pathlib import Path

import numpy as np
from _setup import ROOT, aclsum_documents, django_in_scratch_dir, machine, percentile

DIM = 384


# Bump when synthetic_vectors changes: cached HNSW builds are keyed by it.
GENERATOR = "topics2"


class Corpus:
    """The fixed directions synthetic vectors are drawn around."""

    def __init__(self, rng, topics=200, subtopics=50):
        self.shared = unit(rng.standard_normal(DIM).astype(np.float32))
        self.topics = unit(rng.standard_normal((topics, DIM)).astype(np.float32))
        self.subtopics = unit(rng.standard_normal((topics, subtopics, DIM)).astype(np.float32))


def unit(vectors):
    return vectors / np.linalg.norm(vectors, axis=-1, keepdims=True)


def synthetic_vectors(count, rng, corpus):
    """`count` normalised vectors: shared direction + topic + sub-topic + noise."""
    topic = rng.integers(0, len(corpus.topics), count)
    subtopic = rng.integers(0, corpus.subtopics.shape[1], count)
    vectors = corpus.topics[topic] + 0.6 * corpus.subtopics[topic, subtopic]
    vectors += 0.6 * corpus.shared
    vectors += 0.75 * unit(rng.standard_normal((count, DIM)).astype(np.float32))
    return unit(vectors).astype(np.float32)


def neighbourhood(vectors):
    """Mean cosine of each vector's nearest, 10th nearest and an arbitrary other vector."""
    similarity = vectors @ vectors.T
    np.fill_diagonal(similarity, -2)
    ordered = np.sort(similarity, axis=1)
    others = similarity[np.triu_indices(len(vectors), 1)]
    return (
        f"nearest {ordered[:, -1].mean():.2f}   10th {ordered[:, -10].mean():.2f}   "
        f"random pair {others.mean():.2f}"
    )


def realism(rng, corpus, sample=2000):
    """Print synthetic vectors' neighbourhoods beside real MiniLM embeddings of ACLSum."""
    from papers.embeddings import get_embedder

    documents = aclsum_documents()
    sentences = [
        s
        for d in documents
        for s in (d["abstract"] + " " + d["introduction"]).split(" . ")
        if len(s.split()) >= 5
    ]
    random.Random(0).shuffle(sentences)
    real = np.asarray(get_embedder("minilm").encode(sentences[:sample]), dtype=np.float32)
    print(f"\n  Neighbourhoods of {sample:,} vectors (mean cosine)")
    print(f"    MiniLM, ACLSum sentences   {neighbourhood(unit(real))}")
    print(f"    synthetic                  {neighbourhood(synthetic_vectors(sample, rng, corpus))}")


def figures(seconds):
    millis = [1000 * s for s in seconds]
    return f"p50 {percentile(millis, 50):7.1f} ms   p95 {percentile(millis, 95):7.1f} ms"


# Bump when the corpus part 1 builds changes: cached corpora under var/bench/ are keyed by it.
CORPUS = "c2"


def corpus_dir(papers):
    return ROOT / "var" / "bench" / f"latency-{papers}-{GENERATOR}-{CORPUS}"


def build_corpus(args, rng, corpus):
    """100k papers, their synthetic vectors and both keyword indexes, once per cache folder."""
    import _fts5
    from django.conf import settings

    from papers import keyword, vector_index
    from papers.models import Paper, PaperEmbedding
    from papers.models.search import content_hash, embedding_text

    marker = Path(settings.DATA_DIR) / "corpus-complete"
    if marker.exists():
        # Rebuilt after a keyword FORMAT bump or an ASSAY_ANN_THRESHOLD change; else cheap.
        if keyword.current_version() is None:
            keyword.rebuild()
        vector_index.update_index("minilm")
        print(f"  corpus cached in {settings.DATA_DIR} ({Paper.objects.count():,} papers)")
        return
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
    print(f"  inserted {args.papers:,} papers in {time.perf_counter() - started:.0f} s")

    started = time.perf_counter()
    _fts5.build()
    print(f"  old keyword documents (FTS5) in {time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    keyword.rebuild()
    print(f"  Tantivy keyword index in {time.perf_counter() - started:.0f} s")

    started = time.perf_counter()
    papers = Paper.objects.only("pk", "title", "abstract").order_by("pk")
    for start in range(0, args.papers, 10000):
        chunk = list(papers[start : start + 10000])
        vectors = synthetic_vectors(len(chunk), rng, corpus)
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
    marker.write_text("ok")


def queries_of(documents, pyrandom):
    """(3-word queries, 30-word queries): title starts, and ACLSum summaries cut to 30 words."""
    short = [" ".join(d["title"].split()[:3]) for d in documents]
    long = [" ".join(" ".join(d["summaries"].values()).split()[:30]) for d in documents]
    pyrandom.shuffle(short)
    pyrandom.shuffle(long)
    return short, long


def part_one(args, rng, corpus):
    import _fts5
    from django.conf import settings
    from django.contrib.auth.models import Group, User
    from django.test import Client
    from django.urls import reverse

    from papers import keyword, vector_index
    from papers import search as search_module
    from papers.embeddings import get_embedder
    from papers.models import IndexState, PaperEmbedding

    build_corpus(args, rng, corpus)
    user = User.objects.filter(username="bench").first()
    if user is None:
        user = User.objects.create_user("bench", password="x")
        user.groups.add(Group.objects.get(name="Member"))
    client = Client(HTTP_HOST="localhost")  # an ALLOWED_HOSTS name
    client.force_login(user)
    url = reverse("papers:search")
    short, long = queries_of(aclsum_documents(), random.Random(0))
    short, long = short[: args.queries], long[: args.queries]
    embedder = get_embedder("minilm")
    new_keyword = search_module.keyword_search

    def uncached():
        embedder._queries.clear()  # every measured query embeds afresh

    def timed_http(mode, queries, engine):
        search_module.keyword_search = engine
        seconds = []
        try:
            for query in queries:
                uncached()
                started = time.perf_counter()
                response = client.get(url, {"q": query, "mode": mode}, HTTP_HX_REQUEST="true")
                seconds.append(time.perf_counter() - started)
                assert response.status_code == 200
        finally:
            search_module.keyword_search = new_keyword
        return seconds

    def timed_calls(run, queries):
        seconds = []
        for query in queries:
            started = time.perf_counter()
            run(query)
            seconds.append(time.perf_counter() - started)
        return seconds

    timed_http("hybrid", short[:5], new_keyword)  # load MiniLM, the indexes and the templates
    timed_http("hybrid", short[:5], _fts5.keyword_search)
    encode = []
    for query in short:
        uncached()
        started = time.perf_counter()
        embedder.encode_query(query)
        encode.append(time.perf_counter() - started)
    state = IndexState.for_model("minilm")
    print(f"\n  {len(short)} queries of each kind at {state.count:,} papers, k=10; query cache "
          f"cleared before every query; dense index {state.kind} "
          f"(ASSAY_ANN_THRESHOLD {settings.ASSAY_ANN_THRESHOLD:,})")  # fmt: skip
    print(f"    {'':<40} {'3-word queries':<34} 30-word queries")
    engines = (("old FTS5", _fts5.keyword_search), ("Tantivy", new_keyword))
    limit = search_module.MIN_CANDIDATES
    for name, engine in engines:
        rows = [timed_calls(lambda q, e=engine: e(q, limit=limit), qs) for qs in (short, long)]
        print(f"    {'keyword query alone, ' + name:<40} {figures(rows[0]):<34} {figures(rows[1])}")
    for mode in ("keyword", "hybrid"):
        for name, engine in engines:
            rows = [timed_http(mode, qs, engine) for qs in (short, long)]
            label = f"GET search {mode}, {name}"
            print(f"    {label:<40} {figures(rows[0]):<34} {figures(rows[1])}")
    rows = [timed_http("dense", qs, new_keyword) for qs in (short, long)]
    print(f"    {'GET search dense':<40} {figures(rows[0]):<34} {figures(rows[1])}")
    label = f"(MiniLM query embedding alone, {settings.ASSAY_QUERY_EMBEDDING})"
    print(f"    {label:<40} {figures(encode)}")

    # The dense index at this size: exact against HNSW, on the same vectors and queries.
    _, paper_ids, vectors = PaperEmbedding.objects.for_model("minilm").matrix()
    flat = vector_index.new_index(IndexState.Kind.FLAT, DIM)
    flat.add_with_ids(vectors, paper_ids)
    cached = Path(settings.DATA_DIR) / (
        f"hnsw-m{vector_index.HNSW_M}-efc{vector_index.HNSW_EF_CONSTRUCTION}.faiss"
    )
    if cached.exists():
        hnsw = vector_index.faiss.read_index(str(cached))
    else:
        hnsw = vector_index.new_index(IndexState.Kind.HNSW, DIM)
        hnsw.add_with_ids(vectors, paper_ids)
        vector_index.faiss.write_index(hnsw, str(cached))
    vector_index.faiss.downcast_index(hnsw.index).hnsw.efSearch = vector_index.HNSW_EF_SEARCH
    queries = synthetic_vectors(len(short), rng, corpus)
    vector_index.faiss.omp_set_num_threads(1)
    found = {}
    for name, index in (("exact (flat)", flat), ("HNSW", hnsw)):
        seconds, found[name] = [], []
        for query in queries:
            started = time.perf_counter()
            _, ids = index.search(query.reshape(1, -1), 10)
            seconds.append(time.perf_counter() - started)
            found[name].append(set(ids[0].tolist()))
        recall = np.mean([len(a & b) / 10 for a, b in zip(found[name], found["exact (flat)"])])  # noqa: B905
        print(f"    dense index alone, {name:<21} {figures(seconds):<34} "
              f"recall@10 {recall:.3f} (efSearch {vector_index.HNSW_EF_SEARCH})")  # fmt: skip
    keyword_state = IndexState.for_model(keyword.KEYWORD_STATE)
    print(f"    (Tantivy index v{keyword_state.version}: {keyword_state.count:,} papers)")


def part_two(args, rng, corpus):
    from papers import vector_index
    from papers.models import IndexState

    cache = ROOT / "var" / "bench"
    cache.mkdir(parents=True, exist_ok=True)
    params = (
        f"{GENERATOR}-{args.vectors}-m{vector_index.HNSW_M}-efc{vector_index.HNSW_EF_CONSTRUCTION}"
    )
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
        vectors = synthetic_vectors(min(step, args.vectors - start), rng, corpus)
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
    queries = synthetic_vectors(args.queries, rng, corpus)
    inner = vector_index.faiss.downcast_index(hnsw.index)
    # One OpenMP thread per query, as papers.vector_index searches (faster for one query).
    vector_index.faiss.omp_set_num_threads(1)

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
    print(f"\n  {args.vectors:,} synthetic {DIM}-d vectors, {args.queries} queries, k=10, "
          "one thread per query "
          f"(HNSW M={vector_index.HNSW_M}, efConstruction={vector_index.HNSW_EF_CONSTRUCTION}, "
          f"build {build})")  # fmt: skip
    print(f"    exact (flat)          {figures(exact_seconds)}   recall@10 1.000")
    for ef in sorted({64, 128, 256, vector_index.HNSW_EF_SEARCH, 1024, 2048}):
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
    parser.add_argument("--part", choices=("1", "2", "both"), default="both")
    parser.add_argument("--no-cache", action="store_true", help="rebuild the HNSW index")
    args = parser.parse_args()
    part_one_runs = args.papers and args.part in ("1", "both")
    django_in_scratch_dir("latency", keep=corpus_dir(args.papers) if part_one_runs else None)
    rng = np.random.default_rng(0)
    corpus = Corpus(rng)
    print(f"Search latency ({args.papers:,} papers over HTTP; {args.vectors:,} vectors in faiss)")
    print(f"  {machine()}")
    if part_one_runs:
        part_one(args, rng, corpus)
    if args.vectors and args.part in ("2", "both"):
        realism(rng, corpus)
        part_two(args, rng, corpus)


if __name__ == "__main__":
    main()
