"""The local spool: what could not be sent, kept as JSON lines until it can be.

One file per run, `<experiment>--<client key>.jsonl`. Every line is complete on its own
(experiment, the run's creation payload, and one batch, artifact or finish), so any line can
be replayed by itself, and replaying twice stores nothing twice (runs are found again by
their client key, batches by their idempotency key). The token is never written to disk.

While its run is live, a run's file is named as claimed by its process
(`<experiment>--<client key>.jsonl.syncing-<pid>`), so another job's sync on the same machine
leaves it alone; when the run ends it gets its plain name back, and if the process dies
first, the claim of a dead process is taken by the next sync.

The folder is capped (`ASSAY_SPOOL_MAX_MB`, default 1024 MB): past the cap the oldest records
go first, whole files of earlier runs before the oldest lines of the current one, each with a
warning, so a job that stays offline for days cannot fill the disk.
"""

import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

from .transport import AssayAuthError, AssayError, Transport, send_metrics

logger = logging.getLogger("assay_client")

SUFFIX = ".jsonl"
CLAIMED = ".syncing-"
MB = 1024 * 1024
DEFAULT_MAX_MB = 1024
# Trimming frees a tenth of the cap at once, so a full spool is not rewritten on every append.
TRIM_TO = 0.9


def default_dir():
    return Path(os.environ.get("ASSAY_SPOOL_DIR") or Path.home() / ".assay" / "spool")


def default_max_mb():
    """The cap from ASSAY_SPOOL_MAX_MB (megabytes, may be fractional), else 1024."""
    raw = os.environ.get("ASSAY_SPOOL_MAX_MB", "").strip()
    if not raw:
        return DEFAULT_MAX_MB
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"ASSAY_SPOOL_MAX_MB={raw!r}: must be a positive number of megabytes")
    return value


def experiment_of(path):
    """The experiment key in a spool file's name (`<experiment>--<client key>.jsonl...`)."""
    return Path(path).name.split(CLAIMED)[0][: -len(SUFFIX)].rsplit("--", 1)[0]


@dataclass
class FileResult:
    """What syncing one spool file did."""

    path: Path
    experiment: str
    points: int = 0  # metric points Assay stored (or already had)
    records: int = 0  # other records sent: run creations, artifacts, finishes
    refused: int = 0  # records Assay refused as invalid: dropped, sending again cannot help
    left: bool = False  # the file is still in the spool
    reason: str = ""  # why it was left
    needs_user: bool = False  # left for a reason only the user can fix (token, file)


class Spool:
    def __init__(self, directory=None, *, max_mb=None):
        self.directory = Path(directory) if directory else default_dir()
        max_mb = default_max_mb() if max_mb is None else max_mb
        if not (isinstance(max_mb, (int, float)) and max_mb > 0 and math.isfinite(max_mb)):
            raise ValueError(f"spool cap {max_mb!r}: must be a positive number of megabytes")
        self.max_mb = max_mb
        self.max_bytes = int(max_mb * MB)
        self._size = None  # bytes in the folder at the last count, plus appends since
        self._appended_since_count = 0

    def path_for(self, experiment, client_key):
        return self.directory / f"{experiment}--{client_key}{SUFFIX}"

    def claimed_path(self, path):
        """`path` as claimed by this process: no other process's sync takes it."""
        return self.directory / f"{Path(path).name.split(CLAIMED)[0]}{CLAIMED}{os.getpid()}"

    def release(self, claimed):
        """Give a claimed file its plain name back, for any sync to upload; returns that."""
        original = self.directory / Path(claimed).name.split(CLAIMED)[0]
        try:
            Path(claimed).rename(original)
        except FileNotFoundError:
            pass  # nothing was spooled
        return original

    def append(self, path, record):
        self.directory.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(record, allow_nan=False) + "\n").encode("utf-8")
        # Other processes may spool into the same folder: count it again now and then.
        if self._size is None or self._appended_since_count > self.max_bytes // 20:
            self._size, self._appended_since_count = self._folder_size(), 0
        if self._size + len(line) > self.max_bytes:
            self._make_room(Path(path), len(line))
        # One write of a whole line to a file opened for append: lines never interleave.
        with open(path, "ab") as spool_file:
            spool_file.write(line)
            spool_file.flush()
            os.fsync(spool_file.fileno())
        self._size += len(line)
        self._appended_since_count += len(line)

    def _files(self):
        if not self.directory.is_dir():
            return []
        return [path for path in self.directory.iterdir() if SUFFIX in path.name]

    def _folder_size(self):
        return sum(_size_of(path) for path in self._files())

    def _make_room(self, current, needed):
        """Drop the oldest records until the folder and `needed` more bytes fit the cap."""
        files = self._files()
        total = sum(_size_of(path) for path in files)
        target = max(0, int(self.max_bytes * TRIM_TO) - needed)
        if total + needed <= self.max_bytes:
            self._size = total
            return
        cap = f"{self.max_mb:g} MB"
        # Files claimed by a live process (a sync uploading, a run writing) are left to it.
        earlier = sorted(
            (p for p in files if p != current and (p.name.endswith(SUFFIX) or _abandoned(p))),
            key=_mtime,
        )
        for path in earlier:
            if total <= target:
                break
            size = _size_of(path)
            try:
                path.unlink()
            except FileNotFoundError:
                continue  # a sync took it meanwhile
            total -= size
            logger.warning(
                "spool over its cap of %s (ASSAY_SPOOL_MAX_MB): dropped the oldest spool "
                "file %s (%d bytes)",
                cap, path.name, size,
            )  # fmt: skip
        if total > target and current.exists():
            total -= self._drop_oldest_lines(current, total - target, cap)
        self._size = total

    def _drop_oldest_lines(self, path, excess, cap):
        """Rewrite `path` without its oldest lines, at least `excess` bytes of them."""
        dropped_bytes = dropped_records = dropped_points = 0
        kept = path.with_name(path.name + ".trim")
        with open(path, "rb") as source, open(kept, "wb") as target:
            for line in source:
                if dropped_bytes < excess:
                    dropped_bytes += len(line)
                    dropped_records += 1
                    dropped_points += _points_in(line)
                else:
                    target.write(line)
            target.flush()
            os.fsync(target.fileno())
        os.replace(kept, path)
        logger.warning(
            "spool over its cap of %s (ASSAY_SPOOL_MAX_MB): dropped the oldest %d record(s) "
            "(%d metric points) of %s",
            cap, dropped_records, dropped_points, path.name.split(CLAIMED)[0],
        )  # fmt: skip
        return dropped_bytes

    def pending(self):
        """Spool files to upload: unclaimed ones, and ones claimed by a process now dead.

        Not the files of live runs: those are claimed by their process until the run ends.
        """
        return [
            path for path in sorted(self._files()) if path.name.endswith(SUFFIX) or _abandoned(path)
        ]

    def sync(self, transport_for):
        """Upload every pending spool file; returns a FileResult per file.

        `transport_for(experiment)` gives the Transport (the token) for an experiment, or
        None when there is none: that experiment's files are left, untouched.
        """
        results = []
        for path in self.pending():
            original = self.directory / path.name.split(CLAIMED)[0]
            result = FileResult(original, experiment_of(path))
            results.append(result)
            transport = transport_for(result.experiment)
            if transport is None:
                result.left, result.needs_user = True, True
                result.reason = (
                    f"no token for {result.experiment}: give one with --tokens or ASSAY_TOKENS"
                )
                continue
            claimed = self._claim(path)
            if claimed is None:
                results.pop()  # another process took it
                continue
            try:
                replay(claimed, transport, result)
            except AssayAuthError as error:
                result.left, result.needs_user = True, True
                result.reason = f"{error}; give a valid token for {result.experiment}"
            except AssayError as error:
                result.left = True
                result.reason = f"Assay could not be reached ({error}); run sync again later"
            except (OSError, ValueError, KeyError, TypeError) as error:
                # Not a spool file as this client writes them (or not readable at all).
                result.left, result.needs_user = True, True
                result.reason = f"could not read the file: {error!r}"
            if result.left:
                claimed.rename(original)
            else:
                claimed.unlink()
        return results

    def _claim(self, path):
        # A rename is atomic: of two processes syncing at once, one gets each file.
        claimed = self.claimed_path(path)
        try:
            path.rename(claimed)
        except FileNotFoundError:
            return None
        return claimed


def replay(path, transport: Transport, result=None):
    """Send a spool file's records in order, reading it line by line; returns a FileResult.

    Records Assay refuses as invalid are counted in `refused` and skipped; an auth error or
    an unreachable Assay raises (AssayAuthError, AssayError), leaving the file to the caller.
    """
    result = result or FileResult(Path(path), experiment_of(path))
    run_ids = {}
    with open(path, encoding="utf-8") as spool_file:
        for number, line in enumerate(spool_file, 1):
            try:
                record = json.loads(line)
            except ValueError:
                # A line cut short by a crash while writing: everything before it is whole.
                logger.warning("%s: line %d is incomplete, skipped", Path(path).name, number)
                continue
            _replay_record(Path(path).name, record, transport, run_ids, result)
    return result


def _replay_record(name, record, transport, run_ids, result):
    experiment, run, kind = record["experiment"], record["run"], record["kind"]
    client_key = run["client_key"]
    if client_key not in run_ids:
        try:
            created = transport.request("POST", transport.experiment_url(experiment, "runs"), run)
        except AssayError as error:
            if not error.rejected:
                raise
            logger.warning("%s: Assay refused the run, its records dropped: %s", name, error)
            created = None
        run_ids[client_key] = created["id"] if created else None
        result.records += 1
    run_id = run_ids[client_key]
    if run_id is None:
        result.refused += 1
        return
    if kind == "run":
        return
    url = transport.experiment_url(experiment, f"runs/{run_id}/{kind}")
    try:
        if kind == "metrics":
            result.points += send_metrics(transport, url, record["body"])
        else:
            transport.request("POST", url, record["body"])
            result.records += 1
    except AssayError as error:
        if not error.rejected:
            raise
        logger.warning("%s: Assay refused a spooled %s, dropped: %s", name, kind, error)
        result.refused += 1


def _points_in(line):
    try:
        record = json.loads(line)
    except ValueError:
        return 0
    return len(record.get("body", {}).get("points", ())) if record.get("kind") == "metrics" else 0


def _size_of(path):
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _mtime(path):
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _abandoned(path):
    """Whether `path` is claimed by a process that is no longer running."""
    return CLAIMED in path.name and not _alive(path.name.rsplit(CLAIMED, 1)[1])


def _alive(pid):
    try:
        os.kill(int(pid), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True
