"""Run every benchmark in sequence, each in its own process, printing its figures.

    .venv/bin/python bench/run_all.py        (or: make bench)

Other apps add their benches to BENCHES.
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
