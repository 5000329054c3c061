"""PDFs the PDF tests make: real ones through pypdf, and hostile ones built by hand."""

import zlib

import pytest

from papers.pdf_builder import text_pdf

SENTENCE = "Tiling keeps the attention matrix out of high-bandwidth memory."


def words_text(count, word="token"):
    return " ".join(f"{word}{index}" for index in range(count))


def paper_pages(pages=3, sentences=40):
    """Page texts with a distinct sentence per page, `sentences` sentences long."""
    return [
        f"Page {number} says: {SENTENCE} "
        + " ".join(
            f"Sentence {index} of page {number} adds a careful qualifier."
            for index in range(sentences)
        )
        for number in range(1, pages + 1)
    ]


def handmade_pdf(*streams):
    """A PDF of one page per raw content stream (bytes, already encoded with its /Filter).

    Each stream is (dictionary entries, data), e.g. (b"/Filter /FlateDecode", compressed).
    """
    count = len(streams)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(count)), count),
    ]
    for index, (entries, data) in enumerate(streams):
        contents = 4 + 2 * index
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents %d 0 R >>" % contents
        )
        objects.append(b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(data), entries, data))
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def flate_bomb(inflated_bytes):
    """A one-page PDF whose content stream inflates from ~0.1% of it to `inflated_bytes`."""
    return handmade_pdf((b"/Filter /FlateDecode", zlib.compress(b" " * inflated_bytes, 9)))


@pytest.fixture
def pdf_limits(settings):
    """Small limits, so the hostile cases are small files (and fast)."""
    settings.ASSAY_PDF_MAX_PAGES = 20
    settings.ASSAY_PDF_EXTRACT_SECONDS = 20
    settings.ASSAY_PDF_EXTRACT_MEMORY_MB = 512
    settings.ASSAY_PDF_MAX_BYTES = 2 * 1024 * 1024
    return settings


@pytest.fixture
def media(settings):
    """The folder of this test's stored files (tests/conftest.py gives each test its own)."""
    return settings.MEDIA_ROOT


__all__ = ["text_pdf"]
