"""Run every benchmark in sequence, each in its own process, printing its figures.

    .venv/bin/python bench/run_all.py        (or: make bench)

`make bench` first installs what they need beyond the app: ACLSum (requirements-bench.txt)
and MLflow in its own virtualenv, var/bench-venv, so its pins cannot clash with Assay's.
"""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHES = [
    # papers: search and embeddings
    ["embedding_throughput.py"],
    ["search_latency.py"],
    ["retrieval_quality.py"],
    ["query_embedding.py"],
    # imports: line numbering and parsing of large files
    ["import_scaling.py"],
    # experiments: page render and metric ingestion against MLflow
    ["experiment_page.py"],
    ["ingest_vs_mlflow.py"],
]


def main():
    failed = []
    for bench in BENCHES:
        print(f"\n=== {' '.join(bench)} ===", flush=True)
        if subprocess.run([sys.executable, str(HERE / bench[0]), *bench[1:]]).returncode:
            failed.append(bench[0])
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
