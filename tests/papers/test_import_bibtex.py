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


def test_only_unreadable_or_untitled_entries_are_rejected_the_rest_import_with_warnings():
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
    assert report.summary_line() == "created 5, merged 0, duplicates 1, rejected 2"
    by_line = {o.line: o for o in report.outcomes}
    assert by_line[3].status == "rejected" and "malformed BibTeX" in by_line[3].detail
    assert by_line[11].status == "rejected" and by_line[11].detail == "no title"
    assert by_line[7].title == "a"
    assert by_line[7].warnings == ["field title: appears more than once; the first value is kept"]
    first = by_line[1].paper_id
    assert (by_line[8].status, by_line[8].detail) == (
        "duplicate",
        f"repeats the key 'good1' of line 1 (paper #{first})",
    )
    assert by_line[9].warnings == [
        "field year: 'forthcoming' is not a year (expected e.g. 2016); dropped"
    ]
    assert by_line[10].warnings == ["field journal: undefined @string macro 'nosuchmacro'; dropped"]
    assert Paper.objects.get(bibtex_key="badyear").year is None
    assert Paper.objects.get(bibtex_key="macro").venue == ""
    assert not Paper.objects.filter(title="Same key again").exists()
    assert Paper.objects.count() == 5


def test_an_invalid_doi_is_dropped_with_a_warning_and_the_entry_still_imports():
    report = import_text("@article{k, title = {Still here}, doi = {not a doi}, year = 2019}")
    (outcome,) = report.outcomes
    assert (outcome.status, outcome.warnings) == (
        "created",
        ["field doi: 'notadoi' is not a DOI; dropped"],
    )
    assert Paper.objects.get().doi == ""


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
