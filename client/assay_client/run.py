"""A run reported from a training job: `log` buffers, a background thread sends."""

import atexit
import logging
import os
import socket
import subprocess
import threading
import time
import uuid
from contextlib import contextmanager

from . import platform as platforms
from .points import (
    MAX_BUCKET_LENGTH,
    MAX_GIT_COMMIT_LENGTH,
    MAX_GPU_LENGTH,
    MAX_HOST_LENGTH,
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_VARIANT_LENGTH,
    check_label,
    check_params,
    check_seed,
    check_step,
    encode,
    metric_value,
)
from .spool import Spool, replay
from .transport import AssayAuthError, AssayError, Transport, send_metrics

logger = logging.getLogger("assay_client")


class Run:
    """One run of an experiment. Use `start_run(...)` as a context manager rather than this.

    The run's fields (name, seed, params...) are checked here, with Assay's limits; bad ones
    raise ValueError/TypeError naming the field. The platform (accelerator, CUDA/ROCm,
    framework, precision) is filled in from torch and the environment (assay_client.platform);
    pass `platform={"accelerator_model": ...}` or `precision=torch.bfloat16` to set it. `log()`
    checks its arguments and appends to a buffer, so training never waits on the network. A
    daemon thread creates the run and takes turns: each turn sends the points buffered when it
    began (in batches of up to `batch_size`), polls should-stop when `should_stop_interval` has
    passed (between batches too), then waits `flush_interval` seconds, so however fast the job
    logs, should-stop is still asked on time. While Assay cannot be reached it writes batches to
    the spool instead; `finish()` uploads the run's own spool if Assay is back by then. If Assay
    refuses the token (401/403), everything goes to the spool and the next call of log(),
    should_stop() or finish() raises AssayAuthError.
    """

    def __init__(
        self,
        experiment,
        name,
        *,
        variant="candidate",
        seed=None,
        params=None,
        url=None,
        token=None,
        spool_dir=None,
        spool_max_mb=None,
        git_commit=None,
        host=None,
        gpu=None,
        platform=None,
        precision=None,
        batch_size=1000,
        flush_interval=1.0,
        should_stop_interval=2.0,
        offline_probe_interval=5.0,
        retries=4,
    ):
        # Checked here, not by the sender: a payload Assay refuses would leave the run
        # uncreated, its points neither sent nor spooled, and the job never told.
        self.create_payload = {
            "name": check_label("name", name, max_length=MAX_NAME_LENGTH),
            "variant": check_label("variant", variant, max_length=MAX_VARIANT_LENGTH),
            "seed": check_seed(seed),
            "params": check_params(params),
            "git_commit": check_label(
                "git_commit",
                git_commit if git_commit is not None else _git_commit(),
                max_length=MAX_GIT_COMMIT_LENGTH,
                required=False,
            ),
            "host": check_label(
                "host",
                host if host is not None else socket.gethostname(),
                max_length=MAX_HOST_LENGTH,
                required=False,
            ),
            "gpu": check_label(
                "gpu",
                gpu if gpu is not None else os.environ.get("ASSAY_GPU", ""),
                max_length=MAX_GPU_LENGTH,
                required=False,
            ),
            # Accelerator, runtime, framework and precision: `platform` ({field: value})
            # and `precision` (a torch dtype or a name) win over what platform.detect finds.
            **platforms.detect(platform, precision=precision),
        }
        self.experiment = experiment
        self.transport = Transport(
            url or os.environ.get("ASSAY_URL"),
            token or os.environ.get("ASSAY_TOKEN"),
            retries=retries,
        )
        self.spool = Spool(spool_dir, max_mb=spool_max_mb)
        self.client_key = uuid.uuid4().hex
        # Claimed while the run is live, so another job's sync cannot take it mid-run; it
        # gets its plain name (spool_path then) when the sender ends.
        self.spool_path = self.spool.claimed_path(self.spool.path_for(experiment, self.client_key))
        self.create_payload["client_key"] = self.client_key
        self.id = None
        self.summary = {}
        self.stop_reasons = []
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.should_stop_interval = should_stop_interval
        self.offline_probe_interval = offline_probe_interval

        self._lock = threading.Lock()
        self._points = []
        self._artifacts = []
        self._next_step = 0
        self._batch_number = 0
        self._stop = False
        self._told_to_stop = False
        self._offline_since = None
        self._rate_limited = None  # the detail of the last 429, logged once until it changes
        self._auth_error = None
        self._refused = None  # the AssayError with which Assay refused to create the run
        self._auth_error_raised = False
        self._last_try = 0.0
        self._last_poll = 0.0
        self._closing = False
        self._closed = False
        self._finish_body = None
        self._wake = threading.Event()
        self._sync_thread = None
        self._thread = threading.Thread(target=self._send_loop, name="assay-sender", daemon=True)
        self._thread.start()
        # A script that ends without finish() still gets its points sent or spooled.
        atexit.register(self._flush_at_exit)

    # --- called by the training loop; none of these wait on the network ---

    def log(self, metrics, step=None, *, bucket=None):
        """Record metric values ({name: number}) at a step (default: the previous step + 1).

        Values may be Python numbers, NumPy or PyTorch scalars or 0-d arrays and tensors;
        `step` an integer from 0 (not a bool or float). Bad input raises at once, ValueError
        or TypeError naming the key; the call's other, valid points are still recorded.
        """
        if step is not None:
            step = check_step(step)
        if bucket is not None:
            check_label("bucket", bucket, max_length=MAX_BUCKET_LENGTH, required=False)
        if not hasattr(metrics, "items"):
            raise TypeError(f"metrics must be a dict of {{name: number}}, not {metrics!r}")
        values, problems = [], []
        for key, value in metrics.items():
            try:
                check_label("metric key", key, max_length=MAX_KEY_LENGTH)
                values.append((key, encode(metric_value(key, value))))
            except (TypeError, ValueError) as error:
                problems.append(error)
        with self._lock:
            if step is None:
                step = self._next_step
            if values:  # a call that recorded nothing does not use up a step
                self._next_step = max(self._next_step, step + 1)
            now = time.time()
            for key, value in values:
                point = {"key": key, "value": value, "step": step, "wall_time": now}
                if bucket:
                    point["bucket"] = bucket
                self._points.append(point)
            full = len(self._points) >= self.batch_size
        if full:
            self._wake.set()
        if problems:
            raise type(problems[0])("; ".join(str(problem) for problem in problems))
        self._raise_auth_error()

    def log_artifact(self, uri, *, kind="", size=None, sha256=""):
        """Register a file by reference (s3://, gs://, file://, https://); bytes stay put."""
        body = {"uri": uri, "kind": kind, "size": size, "sha256": sha256}
        with self._lock:
            self._artifacts.append(body)
        self._wake.set()
        self._raise_auth_error()

    def should_stop(self):
        """True once Assay says stop (hard kill criterion tripped, time-box over).

        Answers from the last poll, made in the background every should_stop_interval
        seconds; while Assay cannot be reached the answer stays as it was. Raises
        AssayAuthError once if Assay has refused the token.
        """
        self._raise_auth_error()
        if self._stop:
            self._told_to_stop = True
        return self._stop

    def finish(self, status="finished", summary=None, timeout=None):
        """Send what is left and end the run; waits for the sender (up to `timeout` seconds).

        Raises AssayAuthError if Assay refused the token and no call has raised it yet (the
        run is then in the spool), and ValueError/TypeError naming summary values that are
        not numbers (the others are sent).
        """
        problems = self._end(status, summary, timeout)
        self._raise_auth_error()
        if problems:
            raise type(problems[0])("; ".join(str(problem) for problem in problems))

    def _end(self, status, summary=None, timeout=None):
        """finish() without raising; returns the summary values that could not be sent."""
        if self._closed:
            return []
        self.summary.update(summary or {})
        values, problems = {}, []
        for key, value in self.summary.items():
            try:
                values[check_label("summary key", key, max_length=MAX_KEY_LENGTH)] = encode(
                    metric_value(key, value)
                )
            except (TypeError, ValueError) as error:
                problems.append(error)
        self._finish_body = {"status": status, "summary": values}
        self._closing = True
        self._wake.set()
        self._thread.join(timeout)
        if self._sync_thread:
            self._sync_thread.join(timeout)
        self._closed = True
        atexit.unregister(self._flush_at_exit)
        return problems

    def _raise_auth_error(self):
        # Once: a job that catches it may go on training into the spool.
        if self._auth_error is not None and not self._auth_error_raised:
            self._auth_error_raised = True
            raise self._auth_error

    @property
    def status_on_exit(self):
        return "killed" if self._told_to_stop else "finished"

    # --- the sender thread ---

    def _send_loop(self):
        try:
            self._take_turns()
        finally:
            # Nothing writes the file any more: any sync may upload it now.
            self.spool_path = self.spool.release(self.spool_path)

    @property
    def _spool_name(self):
        """Where the spool file ends up (while the run is live it is named as claimed)."""
        return self.spool.path_for(self.experiment, self.client_key)

    def _take_turns(self):
        while True:
            closing = self._closing
            try:
                self._ensure_created()
                self._send_points()
                self._send_artifacts()
                if closing:
                    self._send_finish()
                    return
                self._poll_should_stop()
            except Exception:  # noqa: BLE001 - the sender must outlive any bug, or points stop
                logger.exception("assay_client sender error")
                if closing:
                    return
            self._wake.wait(self.flush_interval)
            self._wake.clear()

    @property
    def _offline(self):
        return self._offline_since is not None

    def _may_try(self):
        """Whether to call Assay now: always when online, every few seconds when offline."""
        if self._auth_error is not None:
            return False  # nothing succeeds with this token: keep it all in the spool
        if not self._offline:
            return True
        return time.monotonic() - self._last_try >= self.offline_probe_interval or self._closing

    def _reach(self, send):
        """`send(retries)`'s result, or None when Assay cannot be reached (or took no token)."""
        if not self._may_try():
            return None
        self._last_try = time.monotonic()
        try:
            result = send(0 if self._offline else None)
        except AssayAuthError as error:
            self._auth_error = error
            logger.error(
                "%s. Nothing more is sent; records go to %s: upload them with "
                "`python -m assay_client sync` and a valid token.",
                error, self._spool_name,
            )  # fmt: skip
            return None
        except AssayError as error:
            if error.rejected:
                raise
            if error.status == 429:
                # Not "unreachable": Assay answered, and its reason (e.g. too many failed
                # token attempts from this address this minute) matters.
                if error.detail != self._rate_limited:
                    logger.warning(
                        "Assay is refusing requests for now (429): %s. Spooling to %s; "
                        "trying again every %gs.",
                        error.detail, self._spool_name, self.offline_probe_interval,
                    )  # fmt: skip
                self._rate_limited = error.detail
            elif not self._offline:
                logger.warning("Assay unreachable (%s): spooling to %s", error, self._spool_name)
            self._offline_since = self._offline_since or time.monotonic()
            return None
        if self._offline:
            logger.warning("Assay reachable again: sending live")
        self._offline_since = None
        self._rate_limited = None
        return result

    def _call(self, method, path, body=None):
        url = self.transport.experiment_url(self.experiment, path)
        return self._reach(
            lambda retries: self.transport.request(method, url, body, retries=retries)
        )

    def _ensure_created(self):
        if self.id is not None or self._refused is not None:
            return
        try:
            created = self._call("POST", "runs", self.create_payload)
        except AssayError as error:
            # Refused as sent (e.g. 409: a closed experiment takes no new runs): asking again
            # every turn would only fail again, before should-stop is ever asked.
            self._refused = error
            logger.error(
                "Assay refused to create run %s; nothing of it is stored: %s",
                self.create_payload["name"], error.detail or error,
            )  # fmt: skip
            return
        if created is not None:
            self.id = created["id"]
            # A later run uploads what earlier ones spooled, without holding up this one.
            self._sync_thread = threading.Thread(
                target=self._sync_others, name="assay-sync", daemon=True
            )
            self._sync_thread.start()

    def _sync_others(self):
        """Upload earlier spools of this run's experiment (this token works for no other)."""
        try:
            results = self.spool.sync(
                lambda experiment: self.transport if experiment == self.experiment else None
            )
        except OSError as error:
            logger.warning("could not upload earlier spooled runs: %s", error)
            return
        uploaded = 0
        for result in results:
            if result.experiment != self.experiment:
                continue
            uploaded += result.points
            if result.left:
                logger.warning("could not upload %s yet: %s", result.path.name, result.reason)
        if uploaded:
            logger.warning("uploaded %d spooled points of earlier runs", uploaded)

    def _deliver(self, kind, body):
        """Send a record of this run, else spool it. Payloads Assay refuses are dropped."""
        if self._refused is not None:
            return  # the run does not exist: nothing can store this
        if self.id is None:
            self._spool(kind, body)
            return
        url = self.transport.experiment_url(self.experiment, f"runs/{self.id}/{kind}")
        if kind == "metrics":

            def send(retries):
                return send_metrics(self.transport, url, body, retries=retries)
        else:

            def send(retries):
                return self.transport.request("POST", url, body, retries=retries)

        try:
            sent = self._reach(send)
        except AssayError as error:
            if kind == "finish" and error.status == 422 and body.get("summary"):
                # A summary Assay refuses (e.g. past its metric-name cap) must not leave the
                # run "running" for ever: the run still ends, without that summary.
                logger.error("Assay refused the run's summary, finishing without it: %s", error)
                self._deliver("finish", {**body, "summary": {}})
                return
            logger.error("Assay refused a %s record, dropped: %s", kind, error)
            return
        if sent is None:
            self._spool(kind, body)

    def _spool(self, kind, body):
        record = {"experiment": self.experiment, "run": self.create_payload, "kind": kind}
        self.spool.append(self.spool_path, {**record, "body": body})

    def _send_points(self):
        # Only what was buffered when the turn began: a job logging faster than batches go
        # out must not keep the sender here, away from should-stop.
        with self._lock:
            pending, self._points = self._points, []
        for start in range(0, len(pending), self.batch_size):
            self._batch_number += 1
            key = f"{self.client_key}-{self._batch_number}"
            batch = pending[start : start + self.batch_size]
            self._deliver("metrics", {"idempotency_key": key, "points": batch})
            # A long backlog (after an outage) still leaves should-stop asked on schedule.
            self._poll_should_stop()

    def _send_artifacts(self):
        with self._lock:
            artifacts, self._artifacts = self._artifacts, []
        for body in artifacts:
            self._deliver("artifacts", body)

    def _send_finish(self):
        # Spooled batches go first; if they cannot, the finish waits in the spool behind them.
        if self.spool_path.exists():
            self._replay_own_spool()
        if self._finish_body is None:
            return  # flushing at exit: the run is left running, not finished
        if self.spool_path.exists():
            self._spool("finish", self._finish_body)
            if self._auth_error is None:
                logger.warning(
                    "run %s ended offline; upload it later with `python -m assay_client sync`",
                    self.create_payload["name"],
                )
            return
        self._deliver("finish", self._finish_body)

    def _replay_own_spool(self):
        self._ensure_created()
        if self.id is None:
            return
        try:
            replay(self.spool_path, self.transport)
        except AssayAuthError as error:
            if self._auth_error is None:
                logger.error("%s; the run stays in %s", error, self._spool_name)
            self._auth_error = error
            return
        except AssayError as error:
            logger.warning("could not upload the spool yet: %s", error)
            return
        self.spool_path.unlink(missing_ok=True)  # a sync may have taken it meanwhile

    def _poll_should_stop(self):
        if time.monotonic() - self._last_poll < self.should_stop_interval:
            return
        self._last_poll = time.monotonic()
        answer = self._call("GET", "should-stop")
        if answer is not None:
            self._stop, self.stop_reasons = bool(answer["stop"]), answer["reasons"]

    def _flush_at_exit(self):
        if self._closing:
            return
        self._closing = True
        self._finish_body = None
        self._wake.set()
        self._thread.join(30)


def _git_commit():
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=2, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


@contextmanager
def start_run(experiment, name, *, variant="candidate", seed=None, params=None, **options):
    """Report a run to Assay for the duration of the block.

    The run is marked failed if the block raises, killed if it ended after should_stop()
    said stop, finished otherwise. Server URL and token come from ASSAY_URL and ASSAY_TOKEN
    unless given as url= and token=.
    """
    run = Run(experiment, name, variant=variant, seed=seed, params=params, **options)
    try:
        yield run
    except BaseException:
        run._end("killed" if run._told_to_stop else "failed")  # the block's error is the news
        raise
    run.finish(run.status_on_exit)
