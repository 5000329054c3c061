"""HTTP calls to the Assay API, with retries and backoff."""

import json
import logging
import random
import time

import requests

logger = logging.getLogger("assay_client")

# Retrying these can succeed: the server was busy, restarting, or rate-limiting.
RETRYABLE_STATUSES = {408, 425, 429, 500, 502, 503, 504}
# These can never succeed as sent: retrying or spooling the same request is pointless. Not
# 404: a wrong ASSAY_URL answers 404 to everything, and dropping the data then would lose it.
REJECTED_STATUSES = {400, 409, 413, 422}
# The token itself was refused: nothing succeeds until the user gives another one.
AUTH_STATUSES = {401, 403}


class AssayError(Exception):
    """A request Assay refused; `status` is the HTTP status (None: no answer at all).

    `detail` is the server's message and `errors` its per-field list
    (`[{"field": "points.3.key", "message": ...}]`), when it sent them.
    """

    def __init__(self, message, status=None, *, detail="", errors=()):
        super().__init__(message)
        self.status = status
        self.detail = detail
        self.errors = list(errors)

    @property
    def rejected(self):
        """True when the payload itself was refused, so sending it again cannot help."""
        return self.status in REJECTED_STATUSES


class AssayAuthError(AssayError):
    """Assay refused the token (401 or 403): revoked, unknown, for another experiment, or
    read-only. Not a network problem: nothing will be sent until the token is fixed."""


class Transport:
    def __init__(self, url, token, *, retries=4, backoff=0.5, max_backoff=8.0, timeout=30.0):
        if not url:
            raise ValueError("No Assay URL: set ASSAY_URL or pass url=")
        if not token:
            raise ValueError("No Assay token: set ASSAY_TOKEN or pass token=")
        self.url = url.rstrip("/")
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        )

    def experiment_url(self, experiment, path):
        return f"{self.url}/api/v1/experiments/{experiment}/{path}"

    def request(self, method, url, body=None, *, retries=None):
        """JSON response of a call, retried with exponential backoff and full jitter."""
        retries = self.retries if retries is None else retries
        data = None if body is None else json.dumps(body, allow_nan=False)
        attempt = 0
        while True:
            try:
                response = self.session.request(method, url, data=data, timeout=self.timeout)
            except requests.RequestException as error:
                failure = AssayError(f"{method} {url}: {error}")
            else:
                if response.status_code < 400:
                    return response.json()
                failure = _failure(method, url, response)
                if response.status_code not in RETRYABLE_STATUSES:
                    raise failure
            if attempt >= retries:
                raise failure
            # Full jitter spreads out clients that all lost the server at the same moment.
            delay = random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))
            logger.info("%s; retrying in %.1fs", failure, delay)
            time.sleep(delay)
            attempt += 1


def _failure(method, url, response):
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        detail = str(body.get("detail") or response.text[:200])
        errors = body.get("errors") if isinstance(body.get("errors"), list) else ()
    else:
        detail, errors = response.text[:200], ()
    if status in AUTH_STATUSES:
        return AssayAuthError(
            f"Assay refused the token ({status} {response.reason}): {detail}",
            status,
            detail=detail,
        )
    return AssayError(f"{method} {url}: {status} {detail}", status, detail=detail, errors=errors)


def send_metrics(transport, url, body, *, retries=None):
    """POST a metric batch; returns the number of points Assay stored.

    If Assay refuses some of the batch's points (422 naming `points.N...`), only those are
    dropped, with an error naming them, and the rest go again under a key derived from the
    batch's, so a replay of the same batch stays idempotent. `log()` checks points before
    they are buffered, so this only happens with a server stricter than this client.
    """
    points = body["points"]
    try:
        transport.request("POST", url, body, retries=retries)
        return len(points)
    except AssayError as error:
        refused = _refused_points(error, len(points))
        if not error.rejected or not refused or len(refused) == len(points):
            raise
        logger.error(
            "Assay refused %d point(s) of a batch, dropped: %s", len(refused), error.detail
        )
    kept = [point for index, point in enumerate(points) if index not in refused]
    rest = {"idempotency_key": f"{body['idempotency_key']}-valid", "points": kept}
    transport.request("POST", url, rest, retries=retries)
    return len(kept)


def _refused_points(error, count):
    """Indexes of the points a 422 names (fields like "points.3.key")."""
    refused = set()
    for item in error.errors:
        parts = str((item or {}).get("field") or "").split(".")
        if len(parts) >= 2 and parts[0] == "points" and parts[1].isdigit():
            index = int(parts[1])
            if index < count:
                refused.add(index)
    return refused
