"""Outside I/O for papers' PDFs, run by the worker: downloading a PDF, and reading its text in
a child process with hard limits (papers/pdf_text.py). The web process only stores an upload
after checking its size and magic bytes (papers.forms.PdfUploadForm), then queues these.
"""

import hashlib
import ipaddress
import json
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import requests
import requests.adapters
import urllib3
import urllib3.connection
from django.conf import settings
from django.core.files import File
from django.template.defaultfilters import filesizeformat

from . import pdf_text

PDF_MAGIC = b"%PDF-"
# Readers accept a PDF header anywhere in the first kilobyte (some generators prepend junk).
MAGIC_WINDOW = 1024
MAX_REDIRECTS = 5
CHUNK_BYTES = 64 * 1024


def _now():
    return time.monotonic()  # a function of its own, so a test can move the clock


def looks_like_pdf(head):
    """Whether `head` (the first bytes of a file) carries the PDF header."""
    return PDF_MAGIC in head[:MAGIC_WINDOW]


@dataclass
class Extraction:
    """What the child process read: passages [(page, text)], or the reason there are none."""

    page_count: int = 0
    passages: list = field(default_factory=list)
    refused: str = ""
    note: str = ""


def extract_text(path):
    """Read the PDF at `path` in a child process under ASSAY_PDF_EXTRACT_* limits."""
    cpu_seconds = settings.ASSAY_PDF_EXTRACT_SECONDS
    command = [
        sys.executable, "-I", str(Path(pdf_text.__file__)), str(path),
        "--max-pages", str(settings.ASSAY_PDF_MAX_PAGES),
        "--max-memory-bytes", str(settings.ASSAY_PDF_EXTRACT_MEMORY_MB * 2**20),
        "--max-cpu-seconds", str(cpu_seconds),
    ]  # fmt: skip
    try:
        # Wall-clock limit too: a PDF could make the child sleep or wait rather than compute.
        done = subprocess.run(
            command, capture_output=True, timeout=2 * cpu_seconds, stdin=subprocess.DEVNULL
        )
    except subprocess.TimeoutExpired:
        return Extraction(refused=_time_limit(cpu_seconds))
    if done.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        return Extraction(refused=_time_limit(cpu_seconds))
    try:
        result = json.loads(done.stdout)
    except ValueError:
        # The child died without a word: most often memory ran out where Python could not
        # raise MemoryError (inside a C extension).
        error = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return Extraction(
            refused=f"the text extractor failed (exit status {done.returncode}) {error[0]}".strip()
        )
    if "refused" in result:
        return Extraction(refused=result["refused"])
    unreadable = result.get("unreadable_pages") or []
    note = ""
    if unreadable:
        shown = ", ".join(str(page) for page in unreadable[:10])
        more = f" and {len(unreadable) - 10} more" if len(unreadable) > 10 else ""
        note = f"unreadable page{'s' if len(unreadable) > 1 else ''} skipped: {shown}{more}"
    return Extraction(
        page_count=result["pages"],
        passages=[(page, text) for page, text in result["passages"]],
        note=note,
    )


def _time_limit(cpu_seconds):
    return f"reading it took longer than {cpu_seconds} s (ASSAY_PDF_EXTRACT_SECONDS)"


def extract_stored(pdf):
    """Copy the PaperPdf's file from storage to a temporary file and extract its text."""
    limit = settings.ASSAY_PDF_MAX_BYTES
    with tempfile.NamedTemporaryFile(suffix=".pdf") as copy:
        with pdf.file.open("rb") as stored:
            received = 0
            for chunk in iter(lambda: stored.read(CHUNK_BYTES), b""):
                received += len(chunk)
                if received > limit:
                    return Extraction(refused=_too_large(received, limit, streamed=True))
                copy.write(chunk)
        copy.flush()
        with open(copy.name, "rb") as head:
            if not looks_like_pdf(head.read(MAGIC_WINDOW)):
                return Extraction(refused="not a PDF (no %PDF- header)")
        return extract_text(copy.name)


def _too_large(size, limit, *, streamed=False):
    size_text = f"over {filesizeformat(limit)}" if streamed else filesizeformat(size)
    return f"the file is {size_text}; the limit is {filesizeformat(limit)} (ASSAY_PDF_MAX_BYTES)"


class FetchError(Exception):
    """The PDF could not be downloaded; the message says why, for the paper page."""


@dataclass
class Download:
    file: File
    sha256: str
    size: int


def download(url, destination):
    """Download the PDF at `url` into the open binary file `destination`.

    Follows up to MAX_REDIRECTS redirects, each target checked like the first; refuses other
    schemes than http(s), private addresses (unless ASSAY_PDF_FETCH_PRIVATE_ADDRESSES), more
    than ASSAY_PDF_MAX_BYTES and anything that is not a PDF; gives up after
    ASSAY_PDF_FETCH_TIMEOUT_SECONDS in all. Raises FetchError.
    """
    timeout = settings.ASSAY_PDF_FETCH_TIMEOUT_SECONDS
    deadline = _now() + timeout
    limit = settings.ASSAY_PDF_MAX_BYTES
    with requests.Session() as session:
        if not settings.ASSAY_PDF_FETCH_PRIVATE_ADDRESSES:
            for scheme in ("http://", "https://"):
                session.mount(scheme, _PublicOnlyAdapter())
        session.headers["User-Agent"] = "Assay (research paper library)"
        session.headers["Accept"] = "application/pdf"
        # Bytes as sent: a compressed body could inflate past the size cap in one read.
        session.headers["Accept-Encoding"] = "identity"
        for _ in range(MAX_REDIRECTS + 1):
            _check_address(url)
            try:
                response = session.get(
                    url, stream=True, allow_redirects=False, timeout=(5, min(timeout, 30))
                )
            except requests.RequestException as error:
                raise FetchError(f"could not download {url}: {_short(error)}") from None
            with response:
                if response.is_redirect:
                    url = urljoin(url, response.headers["Location"])
                    continue
                if response.status_code != 200:
                    raise FetchError(f"{url} answered HTTP {response.status_code}")
                declared = int(response.headers.get("Content-Length") or 0)
                if declared > limit:
                    raise FetchError(_too_large(declared, limit))
                return _stream(response, destination, limit=limit, deadline=deadline, url=url)
    raise FetchError(f"more than {MAX_REDIRECTS} redirects from {url}")


def _stream(response, destination, *, limit, deadline, url):
    digest, received, head = hashlib.sha256(), 0, b""
    try:
        # read1 returns what has arrived: a server trickling bytes meets the deadline below
        # within one read timeout, instead of holding the worker until a whole chunk is in.
        for chunk in iter(lambda: response.raw.read1(CHUNK_BYTES, decode_content=False), b""):
            if len(head) < MAGIC_WINDOW:
                head += chunk[:MAGIC_WINDOW]
                if len(head) >= MAGIC_WINDOW and not looks_like_pdf(head):
                    raise FetchError(f"{url} is not a PDF (no %PDF- header)")
            received += len(chunk)
            if received > limit:
                raise FetchError(_too_large(received, limit, streamed=True))
            if _now() > deadline:
                raise FetchError(
                    f"the download took longer than {settings.ASSAY_PDF_FETCH_TIMEOUT_SECONDS} s "
                    "(ASSAY_PDF_FETCH_TIMEOUT_SECONDS)"
                )
            digest.update(chunk)
            destination.write(chunk)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as error:
        raise FetchError(f"the download from {url} broke off: {_short(error)}") from None
    if not looks_like_pdf(head):
        raise FetchError(f"{url} is not a PDF (no %PDF- header)")
    destination.flush()
    destination.seek(0)
    return Download(file=File(destination, name="download.pdf"), sha256=digest.hexdigest(),
                    size=received)  # fmt: skip


def _refuse_private(address, host):
    address = ipaddress.ip_address(address.split("%")[0])
    if not address.is_global:
        raise FetchError(
            f"{host} is a private address ({address}); Assay fetches only from the internet "
            "(ASSAY_PDF_FETCH_PRIVATE_ADDRESSES)"
        )


class _PublicOnly:
    # The name may resolve differently for the connection than for _check_address (DNS
    # rebinding): the socket's peer is checked once connected, before any byte is sent.
    def _new_conn(self):
        sock = super()._new_conn()
        try:
            _refuse_private(sock.getpeername()[0], self.host)
        except FetchError:
            sock.close()
            raise
        return sock


class _PublicHTTPConnectionPool(urllib3.HTTPConnectionPool):
    ConnectionCls = type(
        "PublicHTTPConnection", (_PublicOnly, urllib3.connection.HTTPConnection), {}
    )


class _PublicHTTPSConnectionPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = type(
        "PublicHTTPSConnection", (_PublicOnly, urllib3.connection.HTTPSConnection), {}
    )


class _PublicOnlyAdapter(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PublicHTTPConnectionPool,
            "https": _PublicHTTPSConnectionPool,
        }


def _check_address(url):
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FetchError(f"{url!r} is not an http(s) URL")
    if settings.ASSAY_PDF_FETCH_PRIVATE_ADDRESSES:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as error:
        raise FetchError(f"cannot resolve {parts.hostname}: {error}") from None
    for info in infos:
        _refuse_private(info[4][0], parts.hostname)


def _short(error):
    text = str(error)
    return text if len(text) <= 200 else f"{text[:200]}…"
