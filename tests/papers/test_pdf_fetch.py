"""Fetching a paper's PDF by arXiv id or URL, in the worker, from a local HTTP server this test
starts (never the network): size cap, timeout, not-a-PDF, redirects, private addresses."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.urls import reverse

from papers.models import PaperPdf
from tests.factories import make_paper
from tests.papers.pdf_support import (
    paper_pages,
    text_pdf,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media", "pdf_limits")]

PDF = text_pdf(paper_pages(pages=2))


class Handler(BaseHTTPRequestHandler):
    requests_seen = []

    def log_message(self, *args):
        pass  # quiet

    def do_GET(self):  # noqa: N802 - http.server's name
        Handler.requests_seen.append(self.path)
        if self.path in ("/paper.pdf", "/arxiv/2205.14135"):
            self._send(200, PDF)
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/paper.pdf")
            self.end_headers()
        elif self.path == "/page.html":
            self._send(200, b"<html>" + b"<p>Not a PDF</p>" * 200 + b"</html>", "text/html")
        elif self.path == "/declared-huge.pdf":
            self.send_response(200)
            self.send_header("Content-Length", str(10 * 2**30))
            self.end_headers()
            self.wfile.write(PDF)
        elif self.path == "/endless.pdf":
            # No Content-Length: only counting while streaming stops it.
            self.send_response(200)
            self.send_header("Content-Type", "application/pdf")
            self.end_headers()
            try:
                self.wfile.write(b"%PDF-1.7\n")
                for _ in range(10_000):
                    self.wfile.write(b"0" * 65536)
            except (BrokenPipeError, ConnectionResetError):
                pass
        else:
            self._send(404, b"not found", "text/plain")

    def _send(self, status, body, content_type="application/pdf"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server(settings):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"
    settings.ASSAY_PDF_FETCH_PRIVATE_ADDRESSES = True  # the test server is on loopback
    settings.ASSAY_ARXIV_PDF_URL = base + "/arxiv/{arxiv_id}"
    Handler.requests_seen = []
    yield base
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def fetch(bob_client, django_capture_on_commit_callbacks):
    """Ask for a fetch through the paper page's form and run the worker; the PaperPdf."""

    def fetch(paper, url=""):
        with django_capture_on_commit_callbacks(execute=True):
            response = bob_client.post(
                reverse("papers:paper_pdf_fetch", args=[paper.pk]), {"url": url}
            )
        assert response.status_code == 302, response.content.decode()
        return PaperPdf.objects.get(paper=paper)

    return fetch


def test_fetching_by_url_stores_and_extracts_the_pdf(server, fetch, bob_client):
    paper = make_paper()
    pdf = fetch(paper, f"{server}/paper.pdf")
    assert pdf.state == PaperPdf.State.EXTRACTED, pdf.reason
    assert pdf.source == PaperPdf.Source.URL and pdf.size == len(PDF)
    assert paper.passages.filter(page=2).exists()
    served = bob_client.get(reverse("papers:paper_pdf", args=[paper.pk]))
    assert b"".join(served.streaming_content) == PDF


def test_a_blank_url_fetches_the_papers_arxiv_pdf(server, fetch):
    pdf = fetch(make_paper(arxiv_id="2205.14135"))
    assert pdf.source == PaperPdf.Source.ARXIV
    assert pdf.state == PaperPdf.State.EXTRACTED, pdf.reason
    assert Handler.requests_seen == ["/arxiv/2205.14135"]


def test_a_blank_url_without_an_arxiv_id_is_refused(bob_client):
    paper = make_paper()
    response = bob_client.post(reverse("papers:paper_pdf_fetch", args=[paper.pk]), {"url": ""})
    assert response.status_code == 400
    assert "no arXiv id" in response.content.decode()


def test_redirects_are_followed(server, fetch):
    assert fetch(make_paper(), f"{server}/moved").state == PaperPdf.State.EXTRACTED


@pytest.mark.parametrize(
    "path,reason",
    [
        ("/missing.pdf", "answered HTTP 404"),
        ("/page.html", "is not a PDF"),
        ("/declared-huge.pdf", "ASSAY_PDF_MAX_BYTES"),
        ("/endless.pdf", "ASSAY_PDF_MAX_BYTES"),
    ],
)
def test_a_failed_download_is_refused_with_its_reason(server, fetch, bob_client, path, reason):
    paper = make_paper()
    pdf = fetch(paper, f"{server}{path}")
    assert pdf.state == PaperPdf.State.REFUSED
    assert reason in pdf.reason and pdf.reason.startswith("download failed")
    assert not pdf.has_file
    html = bob_client.get(paper.get_absolute_url()).content.decode()
    assert "No text" in html and reason in html


def test_a_slow_download_stops_at_the_timeout(server, fetch, settings, monkeypatch):
    import papers.pdfs

    settings.ASSAY_PDF_FETCH_TIMEOUT_SECONDS = 5
    clock = iter(range(0, 10_000, 10))  # each look at the clock: ten seconds later
    monkeypatch.setattr(papers.pdfs, "_now", lambda: next(clock))
    pdf = fetch(make_paper(), f"{server}/paper.pdf")
    assert pdf.state == PaperPdf.State.REFUSED
    assert "ASSAY_PDF_FETCH_TIMEOUT_SECONDS" in pdf.reason


def test_private_addresses_are_refused_by_default(server, fetch, settings):
    settings.ASSAY_PDF_FETCH_PRIVATE_ADDRESSES = False
    pdf = fetch(make_paper(), f"{server}/paper.pdf")
    assert pdf.state == PaperPdf.State.REFUSED
    assert "private address" in pdf.reason
    assert Handler.requests_seen == []  # never asked


def test_an_address_that_changes_after_the_check_is_refused_too(
    server, fetch, settings, monkeypatch
):
    """DNS rebinding: the name passed the check, the connection went to a private address."""
    import papers.pdfs

    settings.ASSAY_PDF_FETCH_PRIVATE_ADDRESSES = False
    monkeypatch.setattr(papers.pdfs, "_check_address", lambda url: None)
    pdf = fetch(make_paper(), f"{server}/paper.pdf")
    assert pdf.state == PaperPdf.State.REFUSED
    assert "is a private address (127.0.0.1)" in pdf.reason
    assert Handler.requests_seen == []  # refused once connected, before the request
    assert not pdf.has_file


def test_the_fetch_task_is_idempotent(server, fetch):
    from papers.tasks import fetch_pdf

    pdf = fetch(make_paper(), f"{server}/paper.pdf")
    assert fetch_pdf(pdf.pk) is False  # done already: no second download
    assert Handler.requests_seen == ["/paper.pdf"]
