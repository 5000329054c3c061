"""A record that matches several saved papers merges them, which deletes all but one: only a
user who may delete papers (a Lead) gets that merge through an import (issue 9)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from papers.models import Paper
from tests import factories

pytestmark = pytest.mark.django_db

# One record carrying paper A's arXiv id and paper B's DOI.
BRIDGING_RECORD = (
    b"@article{bridge, title = {Attention Is All You Need}, eprint = {1706.03762},"
    b" doi = {10.5555/attention}, year = 2017}"
)


def _papers():
    arxiv = factories.make_paper(title="Attention (preprint)", arxiv_id="1706.03762", year=2017)
    published = factories.make_paper(title="Attention (NeurIPS)", doi="10.5555/attention")
    return arxiv, published


def _import(client):
    upload = SimpleUploadedFile("bridge.bib", BRIDGING_RECORD)
    return client.post(reverse("papers:paper_import"), {"file": upload})


def test_a_member_importing_a_record_that_matches_two_papers_deletes_neither(bob_client):
    arxiv, published = _papers()
    response = _import(bob_client)
    assert response.status_code == 200
    assert set(Paper.objects.values_list("pk", flat=True)) == {arxiv.pk, published.pk}
    body = response.content.decode()
    assert "created 0, merged 0, duplicates 0, rejected 1" in body
    assert f"#{arxiv.pk}" in body and f"#{published.pk}" in body
    assert "ask a Lead to merge them" in body


def test_a_lead_importing_the_same_record_merges_the_two_papers(alice_client):
    arxiv, published = _papers()
    response = _import(alice_client)
    assert "merged 1" in response.content.decode()
    paper = Paper.objects.get()
    assert (paper.pk, paper.arxiv_id, paper.doi) == (arxiv.pk, "1706.03762", "10.5555/attention")
