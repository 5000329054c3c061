"""BibTeX export: bibtexparser writes the entries, pylatexenc the LaTeX; both read back as is."""

import unicodedata

import pytest
from django.conf import settings

from papers.exporters import export_bibtex
from papers.importers import import_text
from papers.models import Paper
from tests import factories

pytestmark = pytest.mark.django_db

DATA = settings.BASE_DIR.parent / "shared" / "data"
BIBLIOGRAPHIES = [
    "phd-thesis-db.bib",
    "biblatex-examples.bib",
    "manuscript-references.csl.json",
    "arxiv-deep-dream.atom.xml",
]


def _metadata():
    rows = Paper.objects.values_list("title", "authors", "year", "doi")
    # Accents composed: the export writes a letter and its combining accent as one.
    nfc = lambda text: unicodedata.normalize("NFC", text)  # noqa: E731
    return sorted((nfc(t), [nfc(a) for a in authors], y, d) for t, authors, y, d in rows)


@pytest.mark.parametrize("name", BIBLIOGRAPHIES)
def test_exporting_a_real_bibliography_and_importing_it_loses_nothing(name):
    import_text((DATA / name).read_text(encoding="utf-8"))
    before = _metadata()
    text = export_bibtex(Paper.objects.all())
    Paper.objects.all().delete()
    report = import_text(text)
    assert report.counts["rejected"] == 0
    assert _metadata() == before


def test_latex_specials_accents_and_math_read_back_as_written():
    title = 'A^2 "quoted" 50% {of} $O(n^2)$ & ~ #1_a \\ Gödel‐style — Sebastião'
    factories.make_paper(title=title, authors=["Édouard Duchesnay", "Henry Ford, Jr."])
    text = export_bibtex(Paper.objects.all())
    assert r"{\'E}douard" in text and "$O(n^2)$" in text
    Paper.objects.all().delete()
    import_text(text)
    paper = Paper.objects.get()
    assert paper.title == title
    assert paper.authors == ["Édouard Duchesnay", "Henry Ford, Jr."]


def test_entries_are_written_one_field_a_line():
    factories.make_paper(title="Mamba", arxiv_id="2312.00752", authors=["Albert Gu"], year=2023)
    assert export_bibtex(Paper.objects.all()) == (
        "@misc{Gu2023mamba,\n"
        "  title = {{Mamba}},\n"
        "  author = {Albert Gu},\n"
        "  year = {2023},\n"
        "  eprint = {2312.00752},\n"
        "  archiveprefix = {arXiv}\n"
        "}\n"
    )
