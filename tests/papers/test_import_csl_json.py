import json

import pytest

from papers.importers import ImportFormatError, import_text
from papers.models import Paper

pytestmark = pytest.mark.django_db


def _item(**fields):
    return {"id": "x", "type": "article-journal", "title": "A title", **fields}


def test_jats_abstract_becomes_sanitised_text_and_dates_of_one_to_three_parts_work():
    items = [
        _item(
            id="a",
            title="Identification of <i>MYCN</i>-Related Gene",
            issued={"date-parts": [[2021, 12, 3]]},
            abstract="<jats:title>Abstract</jats:title><jats:p>Uses <jats:italic>EGFR</jats:italic>"
            "<script>alert(1)</script> &amp; more.</jats:p>",
            author=[{}, {"given": "Aurelie C.", "family": "Lozano"}, {"literal": "TCGA Network"}],
        ),
        _item(id="b", title="Two parts", issued={"date-parts": [["2011", 6]]}),
        _item(id="c", title="One part", issued={"date-parts": [["2008"]]}),
    ]
    report = import_text(json.dumps(items, indent=2))
    assert report.summary_line() == "created 3, merged 0, duplicates 0, rejected 0"
    paper = Paper.objects.get(title="Identification of MYCN-Related Gene")
    assert paper.abstract == "Uses EGFR & more."
    assert paper.authors == ["Aurelie C. Lozano", "TCGA Network"]
    assert sorted(Paper.objects.values_list("year", flat=True)) == [2008, 2011, 2021]


@pytest.mark.parametrize(
    "issued, reason",
    [
        ({"date-parts": [[2020, 13]]}, "not a valid date (month must be in 1..12)"),
        ({"date-parts": [[2020, 2, 30]]}, "not a valid date (day is out of range for month)"),
        ({"date-parts": [["twenty"]]}, "is not a date of whole numbers"),
        ({"date-parts": [[2020, 1, 1, 1]]}, "a date has 1 to 3 parts"),
        ({"date-parts": "2020"}, "date-parts must be a list of lists"),
        ("2020", "expected an object with date-parts"),
    ],
)
def test_a_bad_date_drops_the_year_with_a_warning_naming_the_item_and_its_line(issued, reason):
    items = [_item(id="good", title="Good"), _item(id="bad", title="Bad", issued=issued)]
    report = import_text(json.dumps(items, indent=2))
    assert report.summary_line() == "created 2, merged 0, duplicates 0, rejected 0"
    (warned,) = report.warned
    assert (warned.label, warned.line) == ("bad", 7)  # where the second item's "{" is
    (warning,) = warned.warnings
    assert warning.startswith("issued: ") and reason in warning
    assert warning.endswith("the year is dropped")
    assert Paper.objects.get(title="Bad").year is None


def test_an_invalid_doi_is_dropped_with_a_warning_and_the_item_still_imports():
    items = [_item(id="a", title="Kept anyway", DOI="not-a-doi", issued={"date-parts": [[2020]]})]
    report = import_text(json.dumps(items, indent=2))
    (outcome,) = report.outcomes
    assert outcome.status == "created"
    assert outcome.warnings == ["DOI: 'not-a-doi' is not a DOI; dropped"]
    assert str(outcome) == (
        "line 2 a 'Kept anyway' created: warning: DOI: 'not-a-doi' is not a DOI; dropped"
    )
    paper = Paper.objects.get()
    assert (paper.title, paper.doi, paper.year) == ("Kept anyway", "", 2020)


def test_an_item_repeated_under_its_id_is_a_duplicate_and_one_without_title_is_rejected():
    items = [
        _item(id="smith2020", title="First copy"),
        _item(id="smith2020", title="Second copy, edited"),
        _item(id="untitled", title=""),
    ]
    report = import_text(json.dumps(items, indent=2))
    assert report.summary_line() == "created 1, merged 0, duplicates 1, rejected 1"
    created, repeat, rejected = report.outcomes
    assert repeat.status == "duplicate"
    assert repeat.detail == f"repeats the key 'smith2020' of line 2 (paper #{created.paper_id})"
    assert (rejected.label, rejected.detail) == ("untitled", "no title")
    assert list(Paper.objects.values_list("title", flat=True)) == ["First copy"]


def test_arxiv_items_typed_report_get_their_arxiv_id():
    item = _item(
        type="report",
        title="Adam: A Method for Stochastic Optimization",
        URL="https://arxiv.org/abs/1412.6980",
        number="1412.6980",
        **{"container-title": "arXiv"},
    )
    import_text(json.dumps([item]))
    paper = Paper.objects.get()
    assert (paper.arxiv_id, paper.venue, paper.entry_type) == ("1412.6980", "", "preprint")


def test_invalid_json_and_json_that_is_not_csl_are_refused():
    with pytest.raises(ImportFormatError, match="line 2, column 1: not valid JSON"):
        import_text('[{"title": "x",\n}]')
    with pytest.raises(ImportFormatError, match="not CSL-JSON"):
        import_text('[{"name": "Radar blip", "ring": "adopt"}]')
