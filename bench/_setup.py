"""Shared by the benches: a throw-away Assay (own data folder, fresh SQLite) and aclsum texts."""

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def django_in_scratch_dir(name, keep=None):
    """Set up Django on a fresh, migrated database in a scratch folder; returns the folder.

    `keep`: a folder to use instead and leave in place (a cached corpus under var/bench/).
    """
    if keep is None:
        scratch = Path(tempfile.mkdtemp(prefix=f"assay-bench-{name}-"))
        atexit.register(shutil.rmtree, scratch, ignore_errors=True)  # the 100k database: ~600 MB
    else:
        scratch = Path(keep)
        scratch.mkdir(parents=True, exist_ok=True)
    os.environ["ASSAY_DATA_DIR"] = str(scratch)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.pop("REDIS_URL", None)  # tasks run in-process, as on the embedded default
    # ...at commit, so that what a benchmark measures next sees their result.
    os.environ.setdefault("ASSAY_TASKS_IN_BACKGROUND", "false")
    sys.path.insert(0, str(ROOT))
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    return scratch


def aclsum_documents():
    """The 250 ACLSum papers: [{id, title, abstract, summaries: {aspect: text}}]."""
    from aclsum import ACLSum

    documents = []
    for split in ("train", "val", "test"):
        for document in ACLSum(split):
            documents.append(
                {
                    "id": document.id,
                    "title": document.title,
                    "abstract": " ".join(document.get_all_sentences(["abstract"])),
                    "introduction": " ".join(document.get_all_sentences(["introduction"])),
                    "summaries": dict(document.summaries),
                }
            )
    return documents


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def machine():
    """Cores and load: the figures mean little without them."""
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return f"{os.cpu_count()} CPU cores, load average {load} (1, 5, 15 min)"
