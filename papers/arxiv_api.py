"""The arXiv API (export.arxiv.org/api/query), asked politely, and polling watches with it.

arXiv's terms for the API: at most one request every three seconds, from all of a client's
processes together, and a User-Agent that says who is asking. The three seconds are kept in
the cache (Redis when there is one, so every worker shares them), and each request has a
timeout, so a hung connection cannot hold a worker.
"""

import logging
import re
import time
import xml.etree.ElementTree as ElementTree

import requests
from django.core.cache import cache

from .importers import ImportFormatError, arxiv_atom
from .importers.base import PaperRecord
from .keyword import keyword_search
from .models import Paper
from .models.intake import Watch

logger = logging.getLogger(__name__)

API_URL = "https://export.arxiv.org/api/query"
USER_AGENT = "Assay/1.0 (research paper triage; https://github.com/assay; polite client)"
MIN_INTERVAL_SECONDS = 3.0
TIMEOUT_SECONDS = 30
# Newest first, so one page holds a day's new papers for any focused query.
MAX_RESULTS = 50
# The most library papers one saved-search poll adds to the inbox.
MAX_LIBRARY_MATCHES = 100
_SLOT_KEY = "arxiv-api-next-request"


class ArxivError(Exception):
    """The API could not be asked or did not answer with a feed; the message says why."""


def requests_transport(url, *, params, headers, timeout):
    """(status code, body text) of a GET; the transport tests replace."""
    response = requests.get(url, params=params, headers=headers, timeout=timeout)
    return response.status_code, response.text


class ArxivClient:
    """Asks the API politely. `transport`, `sleep` and `clock` default to the network and real
    time, looked up when the client is made, so tests can swap the module's in one place."""

    def __init__(self, transport=None, sleep=None, clock=None):
        self.transport = transport or requests_transport
        self.sleep = sleep or time.sleep
        self.clock = clock or time.time

    def _wait_for_slot(self):
        # The cache holds when the next request may go. cache.add is atomic, so of two workers
        # that find the slot free only one takes it; the other sleeps until the slot's end.
        while True:
            now = self.clock()
            if cache.add(_SLOT_KEY, now + MIN_INTERVAL_SECONDS, timeout=MIN_INTERVAL_SECONDS):
                return
            next_at = cache.get(_SLOT_KEY)
            if next_at is None or now >= next_at:
                # Expired between the two calls (or a clock behind the cache's): take it.
                cache.set(_SLOT_KEY, now + MIN_INTERVAL_SECONDS, timeout=MIN_INTERVAL_SECONDS)
                return
            self.sleep(min(next_at - now, MIN_INTERVAL_SECONDS))

    def query(self, search_query, *, max_results=MAX_RESULTS):
        """The PaperRecords (and Rejections) of the newest matches; raises ArxivError."""
        self._wait_for_slot()
        params = {
            "search_query": search_query,
            "start": 0,
            "max_results": max_results,
            "sortBy": "submittedDate",
            "sortOrder": "descending",
        }
        try:
            status, text = self.transport(
                API_URL, params=params, headers={"User-Agent": USER_AGENT}, timeout=TIMEOUT_SECONDS
            )
        except requests.RequestException as error:
            raise ArxivError(
                f"arXiv could not be reached: {type(error).__name__}: {error}"
            ) from error
        refusal = _api_error(text)
        if refusal:
            raise ArxivError(f"arXiv refused the query: {refusal}")
        if status != 200:
            raise ArxivError(f"arXiv answered HTTP {status}: {' '.join(text.split())[:300]}")
        try:
            return list(arxiv_atom.parse(text))
        except ImportFormatError as error:
            raise ArxivError(f"arXiv's answer is not a feed: {error}") from error


def _api_error(text):
    """The summary of the error entry arXiv answers a malformed query with, or ""."""
    if "/api/errors" not in text or re.search(r"<!(DOCTYPE|ENTITY)", text, re.IGNORECASE):
        return ""
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return ""
    for entry in root.iter(f"{arxiv_atom.ATOM}entry"):
        if "/api/errors" in (entry.findtext(f"{arxiv_atom.ATOM}id") or ""):
            summary = entry.findtext(f"{arxiv_atom.ATOM}summary") or "no reason given"
            return " ".join(summary.split())
    return ""


def poll(watch, *, client=None):
    """Poll one watch; returns the TriageItems it added. Errors are recorded on the watch."""
    try:
        if watch.kind == Watch.Kind.ARXIV:
            found = [
                watch.add_arxiv_match(record)
                for record in (client or ArxivClient()).query(watch.query)
                if isinstance(record, PaperRecord)
            ]
        else:
            found = _poll_library(watch)
    except ArxivError as error:
        logger.warning("watch %s: %s", watch.pk, error)
        watch.record_poll(error=str(error))
        return []
    watch.record_poll()
    return [item for item in found if item is not None]


def _poll_library(watch):
    # Papers added since the watch last looked: few, so listed to the keyword engine.
    recent = Paper.objects.filter(created_at__gte=watch.library_since())
    paper_ids = list(recent.values_list("pk", flat=True))
    hits = keyword_search(watch.query, limit=MAX_LIBRARY_MATCHES, paper_ids=paper_ids).hits
    papers = Paper.objects.in_bulk([pk for pk, _score in hits])
    return [watch.add_library_match(papers[pk]) for pk, _score in hits if pk in papers]
