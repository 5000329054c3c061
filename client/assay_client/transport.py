"""HTTP calls to the Assay API, with retries and backoff."""

import json
import logging
import math
import random
import time

import requests

logger = logging.getLogger("assay_client")

# Retrying these can succeed: the server was busy, restarting, or rate-limiting.
RETRYABLE_STATUSES = {408, 425, 429, 500, 502, 503, 504}
# These can never succeed as sent: retrying or spooling the same request is pointless.
REJECTED_STATUSES = {400, 413, 422}


class AssayError(Exception):
    """A request Assay refused; `status` is the HTTP status (None: no answer at all)."""

    def __init__(self, message, status=None):
        super().__init__(message)
        self.status = status

    @property
    def rejected(self):
        """True when the payload itself was refused, so sending it again cannot help."""
        return self.status in REJECTED_STATUSES


def encode_value(value):
    """A metric value as JSON can carry it: NaN and infinities as strings Assay accepts."""
    value = float(value)
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


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
                failure = AssayError(
                    f"{method} {url}: {response.status_code} {_detail(response)}",
                    response.status_code,
                )
                if response.status_code not in RETRYABLE_STATUSES:
                    raise failure
            if attempt >= retries:
                raise failure
            # Full jitter spreads out clients that all lost the server at the same moment.
            delay = random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt))
            logger.info("%s; retrying in %.1fs", failure, delay)
            time.sleep(delay)
            attempt += 1


def _detail(response):
    try:
        return response.json().get("detail", response.text[:200])
    except ValueError:
        return response.text[:200]
