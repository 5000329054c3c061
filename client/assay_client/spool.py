"""The local spool: what could not be sent, kept as JSON lines until it can be.

One file per run, `<experiment>--<client key>.jsonl`. Every line is complete on its own
(experiment, the run's creation payload, and one batch, artifact or finish), so any line can
be replayed by itself, and replaying twice stores nothing twice (runs are found again by
their client key, batches by their idempotency key). The token is never written to disk.
"""

import json
import logging
import os
from pathlib import Path

from .transport import AssayError, Transport

logger = logging.getLogger("assay_client")

SUFFIX = ".jsonl"
CLAIMED = ".syncing-"


def default_dir():
    return Path(os.environ.get("ASSAY_SPOOL_DIR") or Path.home() / ".assay" / "spool")


class Spool:
    def __init__(self, directory=None):
        self.directory = Path(directory) if directory else default_dir()

    def path_for(self, experiment, client_key):
        return self.directory / f"{experiment}--{client_key}{SUFFIX}"

    def append(self, path, record):
        self.directory.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, allow_nan=False) + "\n"
        # One write of a whole line to a file opened for append: lines never interleave.
        with open(path, "a", encoding="utf-8") as spool_file:
            spool_file.write(line)
            spool_file.flush()
            os.fsync(spool_file.fileno())

    def pending(self, exclude=()):
        """Spool files to upload: unclaimed ones, and ones claimed by a process now dead."""
        if not self.directory.is_dir():
            return []
        found = []
        for path in sorted(self.directory.iterdir()):
            if path in exclude:
                continue
            if path.name.endswith(SUFFIX):
                found.append(path)
            elif CLAIMED in path.name and not _alive(path.name.rsplit(CLAIMED, 1)[1]):
                found.append(path)
        return found

    def sync(self, transport, *, exclude=()):
        """Upload every pending spool file; returns (points uploaded, files left behind)."""
        uploaded, left = 0, []
        for path in self.pending(exclude):
            claimed = self._claim(path)
            if claimed is None:
                continue  # another process took it
            original = self.directory / (path.name.split(CLAIMED)[0])
            try:
                uploaded += replay(claimed, transport)
            except AssayError as error:
                logger.warning("could not upload %s yet: %s", original.name, error)
                claimed.rename(original)
                left.append(original)
            else:
                claimed.unlink()
        return uploaded, left

    def _claim(self, path):
        # A rename is atomic: of two processes syncing at once, one gets each file.
        claimed = self.directory / f"{path.name.split(CLAIMED)[0]}{CLAIMED}{os.getpid()}"
        try:
            path.rename(claimed)
        except FileNotFoundError:
            return None
        return claimed


def replay(path, transport: Transport):
    """Send a spool file's records in order; returns the number of points sent."""
    records = []
    with open(path, encoding="utf-8") as spool_file:
        for number, line in enumerate(spool_file, 1):
            try:
                records.append(json.loads(line))
            except ValueError:
                # A line cut short by a crash while writing: everything before it is whole.
                logger.warning("%s: line %d is incomplete, skipped", path.name, number)
    run_ids, points = {}, 0
    for record in records:
        experiment, run = record["experiment"], record["run"]
        if run["client_key"] not in run_ids:
            created = transport.request("POST", transport.experiment_url(experiment, "runs"), run)
            run_ids[run["client_key"]] = created["id"]
        run_path = f"runs/{run_ids[run['client_key']]}"
        kind = record["kind"]
        if kind == "run":
            continue
        try:
            transport.request(
                "POST", transport.experiment_url(experiment, f"{run_path}/{kind}"), record["body"]
            )
        except AssayError as error:
            if not error.rejected:
                raise
            logger.warning("%s: Assay refused a spooled %s: %s", path.name, kind, error)
            continue
        if kind == "metrics":
            points += len(record["body"]["points"])
    return points


def _alive(pid):
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
