import pytest
from django.db import IntegrityError

from papers.importers import ImportFormatError, import_text
from papers.models import Paper, Tag

pytestmark = pytest.mark.django_db


def test_latex_macros_concatenation_and_braces_are_decoded():
    text = r"""@string{acm = {ACM}}
@string{pods = "Proc.\ Symp. " # acm # " {PODS}"}

@inproceedings{Koch2016,
  title = {{Incremental} View Maintenance for {{Collection}} Programming},
  author = {Koch, Christoph and L{\"u}pei, Daniel and de la Tannen, Val and others},
  booktitle = pods # { '16},
  year = 2016,
  month = jun,
  doi = {https://doi.org/10.1145/2902251.2902286},
  keywords = {ivm, nested data},
}
"""
    report = import_text(text)
    assert report.summary_line() == "created 1, merged 0, duplicates 0, rejected 0"
    paper = Paper.objects.get()
    assert paper.title == "Incremental View Maintenance for Collection Programming"
    assert paper.authors == ["Christoph Koch", "Daniel Lüpei", "Val de la Tannen"]
    assert paper.venue == "Proc. Symp. ACM PODS '16"
    assert paper.year == 2016
    assert paper.doi == "10.1145/2902251.2902286"
    assert paper.bibtex_key == "Koch2016"
    assert paper.entry_type == "inproceedings"
    assert sorted(t.name for t in paper.tags.all()) == ["ivm", "nested data"]


def test_arxiv_eprint_with_version_is_stored_bare_and_makes_a_preprint():
    text = """@article{Koch2014,
  title = {Incremental view maintenance for collection programming},
  author = {Koch, Christoph},
  journal = {arXiv:1412.4320 [cs]},
  eprint = {1412.4320v2}, archivePrefix = {arXiv},
  year = {2014}, percent = {50% of it},
}"""
    import_text(text)
    paper = Paper.objects.get()
    assert (paper.arxiv_id, paper.venue, paper.entry_type) == ("1412.4320", "", "preprint")


def test_a_malformed_entry_is_rejected_with_its_line_and_the_others_import():
    text = """@article{good1, title = {First good}, year = 2001}

@article{broken, title = {Unclosed, year = 2000,
}

@article{good2, title = {Second good}, year = 2002}
@article{dupfield, title = {a}, title = {b}}
@article{good1, title = {Same key again}}
@article{badyear, title = {Bad year}, year = {forthcoming}}
@article{macro, title = {Uses a macro}, journal = nosuchmacro}
@article{notitle, author = {Nobody, A.}}
"""
    report = import_text(text)
    rejected = {o.line: o.detail for o in [o for o in report.outcomes if o.status == "rejected"]}
    assert [o.title for o in report.outcomes if o.status == "created"] == [
        "First good",
        "Second good",
    ]
    assert "malformed BibTeX" in rejected[3]
    assert rejected[7] == "the field title appears more than once"
    assert rejected[8] == "the key 'good1' is already used at line 1"
    assert rejected[9] == "field year: 'forthcoming' is not a year (expected e.g. 2016)"
    assert rejected[10] == "field journal: undefined @string macro 'nosuchmacro'"
    assert rejected[11] == "no title"
    assert Paper.objects.count() == 2


def test_a_record_that_fails_while_saving_leaves_nothing_behind(monkeypatch):
    original_save = Paper.save

    def save_then_fail(self, *args, **kwargs):
        original_save(self, *args, **kwargs)
        raise IntegrityError("UNIQUE constraint failed: papers_paper.doi")

    monkeypatch.setattr(Paper, "save", save_then_fail)
    report = import_text("@article{a, title = {Tagged}, keywords = {one, two}, year = 2020}")
    (rejected,) = [o for o in report.outcomes if o.status == "rejected"]
    assert "conflicts with a paper saved meanwhile" in rejected.detail
    assert not Paper.objects.exists()
    assert not Tag.objects.exists()


def test_text_that_is_no_known_format_is_refused():
    with pytest.raises(ImportFormatError, match="cannot tell the format"):
        import_text("just some words")
    with pytest.raises(ImportFormatError, match="empty"):
        import_text("   ")
