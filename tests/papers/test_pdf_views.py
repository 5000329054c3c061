"""The paper page's PDF region: upload, status while the worker reads (polled), passages with
anchors and page links, and the PDF itself served only to logged-in readers."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from papers.models import PaperPdf
from tests.factories import make_paper
from tests.papers.pdf_support import (
    SENTENCE,
    paper_pages,
    text_pdf,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media", "pdf_limits")]


def _upload(client, paper, data, name="paper.pdf", **headers):
    url = reverse("papers:paper_pdf_upload", args=[paper.pk])
    return client.post(url, {"file": SimpleUploadedFile(name, data)}, headers=headers)


def test_uploading_a_pdf_extracts_it_and_the_page_lists_its_passages(
    bob_client, django_capture_on_commit_callbacks
):
    paper = make_paper(title="FlashAttention")
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(bob_client, paper, text_pdf(paper_pages(pages=2)))
    assert response.status_code == 302
    html = bob_client.get(paper.get_absolute_url()).content.decode()
    passages = list(paper.passages.all())
    assert f"{len(passages)} passages on 2 of 2 pages" in html
    for passage in passages:
        assert f'id="passage-{passage.pk}"' in html
    pdf_url = reverse("papers:paper_pdf", args=[paper.pk])
    assert f'href="{pdf_url}#page=2"' in html
    assert SENTENCE in html
    # Done: the region no longer polls.
    assert "every 2s" not in html


def test_a_queued_pdf_shows_its_state_and_polls_until_done(
    bob_client, htmx, django_capture_on_commit_callbacks
):
    paper = make_paper()
    _upload(bob_client, paper, text_pdf(paper_pages(pages=1)))  # commit hooks not run: queued
    html = bob_client.get(paper.get_absolute_url()).content.decode()
    status_url = reverse("papers:paper_pdf_status", args=[paper.pk])
    assert "Queued" in html and f'hx-get="{status_url}"' in html and "every 2s" in html
    PaperPdf.objects.filter(paper=paper).update(state=PaperPdf.State.EXTRACTING)
    region = bob_client.get(status_url, headers=htmx).content.decode()
    assert region.lstrip().startswith('<section class="card" id="paper-pdf"')
    assert "Extracting" in region
    assert "every 2s" in region
    pdf = PaperPdf.objects.get(paper=paper)
    pdf.claimed_at = None
    pdf.state = PaperPdf.State.QUEUED
    pdf.save()
    from papers.tasks import extract_pdf

    extract_pdf(pdf.pk)
    region = bob_client.get(status_url, headers=htmx).content.decode()
    assert "Extracted" in region and "every 2s" not in region


def test_a_refused_pdf_shows_the_reason_on_the_paper_page(
    bob_client, django_capture_on_commit_callbacks
):
    paper = make_paper()
    with django_capture_on_commit_callbacks(execute=True):
        _upload(bob_client, paper, text_pdf(paper_pages(pages=1), password="s3cret"))
    html = bob_client.get(paper.get_absolute_url()).content.decode()
    assert "No text" in html and "encrypted with a password" in html


def test_an_upload_that_is_not_a_pdf_is_refused_and_nothing_is_stored(bob_client, htmx, media):
    paper = make_paper()
    response = _upload(bob_client, paper, b"MZ\x90\x00 an executable", name="paper.pdf")
    assert response.status_code == 400
    assert "This is not a PDF" in response.content.decode()
    region = _upload(bob_client, paper, b"<html></html>", **htmx)
    assert region.status_code == 200 and "This is not a PDF" in region.content.decode()
    assert not PaperPdf.objects.exists()
    assert not any(media.rglob("*.pdf")) if media.exists() else True


def test_an_upload_over_the_pdf_limit_is_refused_naming_the_setting(bob_client, settings):
    paper = make_paper()
    settings.ASSAY_PDF_MAX_BYTES = 10_000
    response = _upload(bob_client, paper, b"%PDF-1.7\n" + b"0" * 20_000)
    assert response.status_code == 400
    assert "ASSAY_PDF_MAX_BYTES" in response.content.decode()
    assert not PaperPdf.objects.exists()


def test_a_pdf_may_be_larger_than_the_bibliography_upload_limit(
    bob_client, settings, django_capture_on_commit_callbacks
):
    data = text_pdf(paper_pages(pages=2))
    settings.ASSAY_MAX_UPLOAD_BYTES = len(data) // 2
    paper = make_paper()
    with django_capture_on_commit_callbacks(execute=True):
        assert _upload(bob_client, paper, data).status_code == 302
    assert PaperPdf.objects.get(paper=paper).size == len(data)


def test_the_upload_checks_the_csrf_token(client, bob):
    client = type(client)(enforce_csrf_checks=True)
    client.force_login(bob)
    response = _upload(client, make_paper(), text_pdf(["A page."]))
    assert response.status_code == 403
    assert not PaperPdf.objects.exists()


def test_a_reader_without_a_role_cannot_upload(charlie_client):
    assert _upload(charlie_client, make_paper(), text_pdf(["A page."])).status_code == 403
    assert not PaperPdf.objects.exists()


def test_the_pdf_is_served_to_readers_with_its_content_type(
    bob_client, client, django_capture_on_commit_callbacks
):
    paper = make_paper(title="FlashAttention: Fast Attention")
    data = text_pdf(paper_pages(pages=1))
    with django_capture_on_commit_callbacks(execute=True):
        _upload(bob_client, paper, data)
    url = reverse("papers:paper_pdf", args=[paper.pk])
    response = bob_client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("inline")
    assert b"".join(response.streaming_content) == data
    client.logout()
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]


def test_no_pdf_is_a_404(bob_client):
    assert bob_client.get(reverse("papers:paper_pdf", args=[make_paper().pk])).status_code == 404


def test_extracting_again_reads_the_stored_file(bob_client, django_capture_on_commit_callbacks):
    paper = make_paper()
    with django_capture_on_commit_callbacks(execute=True):
        _upload(bob_client, paper, text_pdf(paper_pages(pages=1)))
    paper.passages.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        response = bob_client.post(reverse("papers:paper_pdf_extract", args=[paper.pk]))
    assert response.status_code == 302
    assert paper.passages.exists()


def test_replacing_the_pdf_deletes_the_old_file(
    bob_client, media, django_capture_on_commit_callbacks
):
    paper = make_paper()
    with django_capture_on_commit_callbacks(execute=True):
        _upload(bob_client, paper, text_pdf(["First version. It is short."]))
    first = PaperPdf.objects.get(paper=paper).file.name
    with django_capture_on_commit_callbacks(execute=True):
        _upload(bob_client, paper, text_pdf(["Second version. It is short too."]))
    second = PaperPdf.objects.get(paper=paper).file.name
    assert first != second
    assert not (media / first).exists() and (media / second).exists()
    with django_capture_on_commit_callbacks(execute=True):
        paper.delete()
    assert not (media / second).exists()


def test_a_merged_paper_brings_its_pdf_and_passages(bob_client, django_capture_on_commit_callbacks):
    keep, other = make_paper(title="Keep"), make_paper(title="Other")
    with django_capture_on_commit_callbacks(execute=True):
        _upload(bob_client, other, text_pdf(paper_pages(pages=1)))
    count = other.passages.count()
    other.merge_into(keep)
    assert PaperPdf.objects.get(paper=keep).state == PaperPdf.State.EXTRACTED
    assert keep.passages.count() == count
