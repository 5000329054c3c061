"""A PDF's text is searchable as soon as the worker has read it: a sentence from its body finds
the paper, with the passage and its page, in the page results and the API."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from papers.pdf_builder import text_pdf
from tests.factories import make_paper

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media", "pdf_limits")]

BODY = "Quokka gradients vanish whenever the zebrafish warmup schedule is skipped."


def _pages():
    filler = " ".join(f"Sentence {n} restates the method carefully." for n in range(30))
    return [f"Introduction. {filler}", f"Results. {filler} {BODY} {filler}"]


@pytest.fixture
def uploaded(bob_client, fake_models, on_commit):
    paper = make_paper(title="Warmup schedules for small models", abstract="We study warmup.")
    with on_commit():
        url = reverse("papers:paper_pdf_upload", args=[paper.pk])
        upload = SimpleUploadedFile("warmup.pdf", text_pdf(_pages()))
        assert bob_client.post(url, {"file": upload}).status_code == 302
    return paper


def test_a_sentence_from_the_body_finds_the_paper_at_its_page(bob_client, uploaded, htmx):
    [passage] = uploaded.passages.filter(text__contains="zebrafish")
    assert passage.page == 2
    query = {"q": "quokka zebrafish warmup", "mode": "keyword"}
    html = bob_client.get(reverse("papers:search"), query, headers=htmx).content.decode()
    assert "schedules for small models" in html  # the title, "Warmup" highlighted
    assert f"{reverse('papers:paper_detail', args=[uploaded.pk])}#passage-{passage.pk}" in html
    assert "p. 2" in html

    response = bob_client.get("/api/v1/papers/search", {"q": "quokka zebrafish", "mode": "hybrid"})
    [hit, *_] = response.json()
    assert hit["id"] == uploaded.pk
    assert hit["passage"]["id"] == passage.pk and hit["passage"]["page"] == 2


def test_extracting_again_after_a_new_file_forgets_the_old_text(bob_client, uploaded, on_commit):
    with on_commit():
        url = reverse("papers:paper_pdf_upload", args=[uploaded.pk])
        upload = SimpleUploadedFile("v2.pdf", text_pdf(["A different paper about llamas."]))
        assert bob_client.post(url, {"file": upload}).status_code == 302
    response = bob_client.get("/api/v1/papers/search", {"q": "quokka zebrafish", "mode": "keyword"})
    assert response.json() == []
    response = bob_client.get("/api/v1/papers/search", {"q": "llamas", "mode": "keyword"})
    assert [hit["passage"]["page"] for hit in response.json()] == [1]
