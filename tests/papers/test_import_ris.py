"""RIS as EndNote, Mendeley and Zotero export it, quirks included, through the same importer,
dedupe and per-record report as the other formats (issue 12 §4 C)."""

import codecs

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from papers.importers import decode_file, detect_format, import_text
from papers.models import Paper

pytestmark = pytest.mark.django_db

# Zotero's export of a preprint and a journal article (tags as Zotero writes them).
ZOTERO = """TY  - JOUR
TI  - Attention Is All You Need
AU  - Vaswani, Ashish
AU  - Shazeer, Noam
PY  - 2017
DA  - 2017/06/12/
UR  - http://arxiv.org/abs/1706.03762
N1  - arXiv: 1706.03762
KW  - Computer Science - Computation and Language
KW  - Computer Science - Machine Learning
ER  -

TY  - JOUR
TI  - Deep learning
AU  - LeCun, Yann
AU  - Bengio, Yoshua
AU  - Hinton, Geoffrey
T2  - Nature
AB  - Deep learning allows computational models that are composed of multiple
  processing layers to learn representations of data.
DA  - 2015/05/28/
PY  - 2015
DO  - https://doi.org/10.1038/nature14539
VL  - 521
SP  - 436
ER  -
"""


def test_a_zotero_export_imports_authors_year_venue_identifiers_and_keywords():
    assert detect_format(ZOTERO) == "ris"
    report = import_text(ZOTERO)
    assert report.format == "ris"
    assert report.summary_line() == "created 2, merged 0, duplicates 0, rejected 0"
    attention = Paper.objects.get(arxiv_id="1706.03762")
    assert attention.title == "Attention Is All You Need"
    assert attention.authors == ["Ashish Vaswani", "Noam Shazeer"]
    assert (attention.year, attention.entry_type) == (2017, "preprint")
    assert [t.name for t in attention.tags.all()] == [
        "Computer Science - Computation and Language",
        "Computer Science - Machine Learning",
    ]
    nature = Paper.objects.get(title="Deep learning")
    # DO with a URL prefix is stored as the bare, lower-case DOI.
    assert (nature.doi, nature.venue, nature.year) == ("10.1038/nature14539", "Nature", 2015)
    assert nature.abstract.startswith("Deep learning allows computational models that are")
    assert "multiple processing layers" in nature.abstract
    assert [o.line for o in report.outcomes] == [1, 13]


def test_importing_ris_twice_and_a_bibtex_copy_of_it_adds_nothing():
    import_text(ZOTERO)
    again = import_text(ZOTERO)
    assert again.summary_line() == "created 0, merged 0, duplicates 2, rejected 0"
    bibtex = import_text("@article{lecun, title = {Deep Learning}, doi = {10.1038/NATURE14539}}")
    assert bibtex.outcomes[0].status in {"duplicate", "merged"}
    assert Paper.objects.count() == 2


QUIRKS = """TY  - JOUR
ID  - 17
TI  - First title wins
TI  - A second TI line from a translated export
AU  - Doe, Jane
AU  - Roe, Richard, Jr.
PY  - 2021///
DO  - not a doi
ER  -

AU  - Nobody, Without
TI  - A record with no TY line
PY  - 2019
ER  -

TY  - CONF
TI  - A record with no ER line
PY  - 2020
TY  - RPRT
ID  - 17
TI  - Same ID as the first record
ER  -
TY  - JOUR
AU  - Untitled, Anne
ER  -
TY  - THES
TI  - The last record lacks its ER too
PY  - May 2018"""


def test_ris_quirks_repeated_tags_missing_ty_and_er_a_bad_doi_and_a_repeated_id():
    report = import_text(QUIRKS)
    assert report.summary_line() == "created 4, merged 0, duplicates 1, rejected 1"
    by_line = {o.line: o for o in report.outcomes}
    assert sorted(by_line) == [1, 11, 16, 19, 23, 26]
    first = by_line[1]
    assert (first.status, first.title) == ("created", "First title wins")
    assert first.warnings == ["DO: 'not a doi' is not a DOI; dropped"]
    paper = Paper.objects.get(pk=first.paper_id)
    assert paper.authors == ["Jane Doe", "Richard Roe, Jr."]
    assert (paper.year, paper.doi) == (2021, "")
    assert Paper.objects.get(title="A record with no TY line").year == 2019
    assert Paper.objects.get(title="A record with no ER line").entry_type == "inproceedings"
    assert Paper.objects.get(title="The last record lacks its ER too").year == 2018
    assert (by_line[19].status, by_line[19].detail) == (
        "duplicate",
        f"repeats the key '17' of line 1 (paper #{first.paper_id})",
    )
    assert (by_line[23].status, by_line[23].detail) == ("rejected", "no title (TI or T1)")
    assert not Paper.objects.filter(title="Same ID as the first record").exists()


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
        lambda text: text.encode("utf-16"),  # EndNote on Windows: UTF-16 LE with its BOM
        lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    ],
    ids=["utf-8-bom", "utf-16-le-bom", "utf-16-be-bom"],
)
def test_a_file_with_a_byte_order_mark_imports_through_the_upload_page(alice_client, encode):
    text = "TY  - JOUR\r\nTI  - Über Gradienten\r\nAU  - Müller, Jürgen\r\nPY  - 2020\r\nER  - \r\n"
    upload = SimpleUploadedFile("endnote.ris", encode(text), content_type="application/x-ris")
    response = alice_client.post(reverse("papers:paper_import"), {"file": upload})
    assert response.status_code == 200
    assert "created 1, merged 0, duplicates 0, rejected 0" in response.content.decode()
    paper = Paper.objects.get()
    assert (paper.title, paper.authors) == ("Über Gradienten", ["Jürgen Müller"])


def test_the_upload_page_shows_a_dropped_field_as_a_warning(alice_client):
    upload = SimpleUploadedFile("x.ris", b"TY  - JOUR\nTI  - Kept\nDO  - nonsense\nER  - \n")
    response = alice_client.post(reverse("papers:paper_import"), {"file": upload})
    page = response.content.decode()
    assert "DO: &#x27;nonsense&#x27; is not a DOI; dropped" in page
    assert "1 record imported without a field that could not be read" in page


def test_the_command_reads_a_utf16_ris_file(tmp_path, capsys):
    path = tmp_path / "library.ris"
    path.write_bytes("TY  - BOOK\nTI  - Pattern Recognition\nPY  - 2006\nER  - \n".encode("utf-16"))
    call_command("import_papers", str(path))
    out = capsys.readouterr().out
    assert f"{path}: line 1 'Pattern Recognition' created" in out
    assert Paper.objects.get().entry_type == "book"


def test_a_binary_file_starting_with_a_utf16_mark_is_still_refused_as_not_text():
    with pytest.raises(ValueError, match="not UTF-8 text"):
        decode_file(b"\xff\xfe\x00\x81PK\x03\x04")


def test_an_undated_record_imports_without_a_year_and_the_command_says_why(tmp_path, capsys):
    path = tmp_path / "mendeley.ris"
    path.write_text("TY  - JOUR\nID  - m1\nTI  - Undated\nPY  - n.d.\nER  -\n", encoding="utf-8")
    call_command("import_papers", str(path))
    out = capsys.readouterr().out
    assert f"{path}: line 1 m1 'Undated' created: warning: PY: 'n.d.' is not a year; dropped" in out
    assert Paper.objects.get().year is None
