"""The worker reads a PDF into page-numbered passages in a child process with limits; a
hostile or broken PDF is refused or marked "no text", with the reason the paper page shows."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from papers.models import PaperPdf, Passage
from papers.pdf_builder import content_pdf
from papers.pdf_text import MAX_PASSAGE_WORDS
from papers.tasks import extract_pdf
from tests.factories import make_paper
from tests.papers.pdf_support import (
    SENTENCE,
    flate_bomb,
    paper_pages,
    text_pdf,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media", "pdf_limits")]


@pytest.fixture
def attach(bob, django_capture_on_commit_callbacks):
    """Upload `data` as a paper's PDF and run the queued extraction; the fresh PaperPdf."""

    def attach(data, paper=None):
        paper = paper or make_paper(title="FlashAttention")
        with django_capture_on_commit_callbacks(execute=True):
            pdf = PaperPdf.attach_upload(
                paper=paper, upload=SimpleUploadedFile("paper.pdf", data), by=bob
            )
        pdf.refresh_from_db()
        return pdf

    return attach


def test_a_text_pdf_becomes_page_numbered_passages(attach):
    pdf = attach(text_pdf(paper_pages(pages=3)))
    assert pdf.state == PaperPdf.State.EXTRACTED
    assert pdf.page_count == 3
    passages = list(pdf.paper.passages.all())
    assert [p.ordinal for p in passages] == list(range(1, len(passages) + 1))
    assert {p.page for p in passages} == {1, 2, 3}
    assert passages[0].page == 1 and SENTENCE in passages[0].text
    # Every passage is bounded and comes from one page: "page 2" text never sits on page 1.
    for passage in passages:
        assert len(passage.text.split()) <= MAX_PASSAGE_WORDS
        other_pages = {1, 2, 3} - {passage.page}
        assert not any(f"of page {n} " in passage.text for n in other_pages), passage.text


def test_extracting_again_replaces_the_passages_and_a_second_run_does_nothing(
    attach, django_capture_on_commit_callbacks
):
    pdf = attach(text_pdf(paper_pages(pages=2)))
    first_ids = set(pdf.paper.passages.values_list("pk", flat=True))
    # The task is idempotent: run again for an extracted PDF, it changes nothing.
    assert extract_pdf(pdf.pk) is False
    assert set(pdf.paper.passages.values_list("pk", flat=True)) == first_ids
    pdf = attach(text_pdf(["Only one page now. It is short."]), paper=pdf.paper)
    assert pdf.state == PaperPdf.State.EXTRACTED
    assert list(pdf.paper.passages.values_list("page", "text")) == [
        (1, "Only one page now. It is short.")
    ]


def test_a_result_for_a_replaced_file_is_dropped(attach, bob, django_capture_on_commit_callbacks):
    """A slow worker's result for the old file must not overwrite the new file's passages."""
    pdf = attach(text_pdf(paper_pages(pages=1)))
    PaperPdf.objects.filter(pk=pdf.pk).update(state=PaperPdf.State.QUEUED)
    stale = PaperPdf.claim_extraction(pdf.pk)
    attach(text_pdf(["The new file. Its text wins."]), paper=pdf.paper)
    assert stale.store_passages(page_count=1, passages=[(1, "old text")]) is False
    assert list(Passage.objects.filter(paper=pdf.paper).values_list("text", flat=True)) == [
        "The new file. Its text wins."
    ]


def _refused(pdf, *words):
    assert pdf.state == PaperPdf.State.REFUSED, (pdf.state, pdf.reason)
    assert not pdf.paper.passages.exists()
    for word in words:
        assert word in pdf.reason, pdf.reason


def test_encrypted_with_a_password_is_refused(attach):
    _refused(attach(text_pdf(paper_pages(1), password="s3cret")), "encrypted with a password")


def test_encrypted_with_an_empty_password_is_read(attach):
    # "Encrypted" against editing only: every reader opens it without a password.
    pdf = attach(text_pdf(paper_pages(1), password=""))
    assert pdf.state == PaperPdf.State.EXTRACTED


def test_truncated_pdf_is_refused(attach):
    data = text_pdf(paper_pages(2))
    _refused(attach(data[: len(data) // 2]), "not a readable PDF")


def test_malformed_objects_are_refused(attach):
    garbage = b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\n" + b"\x00\xff" * 500
    _refused(attach(garbage), "not a readable PDF")


def test_a_file_that_is_not_a_pdf_is_refused_by_the_worker_too(attach):
    # The upload form checks the header; a file replaced in storage behind its back is not read.
    _refused(attach(b"<html><body>Not a PDF</body></html>"), "not a PDF")


def test_a_scanned_pdf_with_no_text_is_marked_no_text(attach):
    pdf = attach(text_pdf(["", "", ""]))
    assert pdf.state == PaperPdf.State.NO_TEXT
    assert pdf.reason.startswith("no text on any of its 3 pages")
    assert not pdf.paper.passages.exists()


def test_too_many_pages_is_refused_naming_the_limit(attach, settings):
    settings.ASSAY_PDF_MAX_PAGES = 5
    _refused(attach(text_pdf(["A page."] * 6)), "6 pages", "limit is 5", "ASSAY_PDF_MAX_PAGES")


def test_a_file_grown_past_the_size_limit_in_storage_is_refused(attach, settings):
    data = text_pdf(paper_pages(1))
    settings.ASSAY_PDF_MAX_BYTES = len(data) - 1
    _refused(attach(data), "ASSAY_PDF_MAX_BYTES")


def test_a_decompression_bomb_is_refused(attach):
    # 200 MB of content stream in a ~200 KB file: pypdf stops at its own limit.
    _refused(attach(flate_bomb(200_000_000)), "safety limit")


def test_a_pdf_needing_more_memory_than_allowed_is_refused(attach, settings):
    # 60 MB inflated stays under pypdf's limit, but not under a 64 MB address space.
    settings.ASSAY_PDF_EXTRACT_MEMORY_MB = 64
    _refused(attach(flate_bomb(60_000_000)), "memory", "ASSAY_PDF_EXTRACT_MEMORY_MB")


def test_a_pdf_taking_longer_than_the_cpu_limit_is_refused(attach, settings):
    settings.ASSAY_PDF_EXTRACT_SECONDS = 1
    # 400,000 text operators in a 5 KB file: seconds of pure Python (under pypdf's budget).
    data = content_pdf([b"BT /F1 1 Tf " + b"(a) Tj " * 400_000 + b"ET"])
    _refused(attach(data), "longer than 1 s", "ASSAY_PDF_EXTRACT_SECONDS")


def test_the_pdf_is_parsed_in_a_child_process_never_in_this_one(attach, monkeypatch):
    import pypdf

    def refuse_here(*args, **kwargs):
        raise AssertionError("pypdf was called in the web/worker process")

    monkeypatch.setattr(pypdf, "PdfReader", refuse_here)
    assert attach(text_pdf(paper_pages(pages=1))).state == PaperPdf.State.EXTRACTED


def test_a_claim_abandoned_by_a_dead_worker_is_taken_again(attach):
    from datetime import timedelta

    from django.utils import timezone

    pdf = attach(text_pdf(paper_pages(pages=1)))
    fresh = timezone.now()
    PaperPdf.objects.filter(pk=pdf.pk).update(state=PaperPdf.State.EXTRACTING, claimed_at=fresh)
    assert extract_pdf(pdf.pk) is False  # a live worker holds it
    long_ago = fresh - timedelta(hours=1)
    PaperPdf.objects.filter(pk=pdf.pk).update(claimed_at=long_ago)
    pdf.refresh_from_db()
    assert pdf.is_stuck
    assert extract_pdf(pdf.pk) is True
    pdf.refresh_from_db()
    assert pdf.state == PaperPdf.State.EXTRACTED and not pdf.is_stuck
