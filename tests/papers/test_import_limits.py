"""Hostile files: too many records, or nesting deep enough to exhaust the parser's recursion,
give a clear refusal or a rejected record with its line, never a 500 (issue 9)."""

import json

import pytest

from papers.importers import ImportFormatError, import_text
from papers.models import Paper

pytestmark = pytest.mark.django_db

ATOM_HEAD = '<?xml version="1.0"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'


def _atom_entry(number, title="A title"):
    return (
        f"<entry>\n<id>http://arxiv.org/abs/2101.{number:05d}v1</id>\n"
        f"<title>{title}</title>\n<published>2021-01-01T00:00:00Z</published>\n</entry>\n"
    )


def _atom(entries):
    return ATOM_HEAD + "".join(entries) + "</feed>\n"


@pytest.mark.parametrize(
    "text",
    [
        _atom(_atom_entry(n) for n in range(4)),
        json.dumps([{"type": "article", "title": f"Paper {n}"} for n in range(4)]),
        "\n".join(f"@article{{k{n}, title = {{Paper {n}}}}}" for n in range(4)),
    ],
    ids=["atom", "csl-json", "bibtex"],
)
def test_a_file_with_more_records_than_the_cap_is_refused_naming_the_cap(settings, text):
    settings.ASSAY_IMPORT_MAX_RECORDS = 3
    with pytest.raises(ImportFormatError) as refused:
        import_text(text)
    assert str(refused.value) == (
        "the file has 4 records; the limit is 3 per file (ASSAY_IMPORT_MAX_RECORDS): "
        "split it into smaller files"
    )
    assert not Paper.objects.exists()


def test_atom_and_csl_records_keep_their_line_numbers_in_a_long_file():
    # Each Atom entry is 5 lines after the 2-line head; a rejected one names its own line.
    entries = [_atom_entry(n) for n in range(300)]
    entries[250] = entries[250].replace("<title>A title</title>", "<title></title>")
    report = import_text(_atom(entries))
    (rejected,) = [o for o in report.outcomes if o.status == "rejected"]
    assert (rejected.line, rejected.detail) == (3 + 250 * 5, "no title")
    items = [{"type": "article", "title": f"Paper {n}"} for n in range(300)]
    items[299] = {"type": "article", "issued": {"date-parts": [[2020]]}}
    # indent=1: "[" on line 1, then four lines per item ({, type, title, }).
    report = import_text(json.dumps(items, indent=1))
    (rejected,) = [o for o in report.outcomes if o.status == "rejected"]
    assert (rejected.line, rejected.detail) == (2 + 299 * 4, "no title")


def test_hundreds_of_nested_braces_in_bibtex_reject_that_entry_with_its_line():
    deep = "{" * 500 + "x" + "}" * 500
    text = (
        f"@article{{fine, title = {{Fine}}, year = 2020}}\n\n@article{{deep,\n title = {deep}}}\n"
    )
    report = import_text(text)
    assert report.summary_line() == "created 1, merged 0, duplicates 0, rejected 1"
    (rejected,) = [o for o in report.outcomes if o.status == "rejected"]
    assert (rejected.line, rejected.label) == (3, "deep")
    assert rejected.detail == "field title: braces nested 500 levels deep (at most 32)"


def test_deeply_nested_elements_in_an_atom_entry_reject_that_entry_with_its_line():
    deep = "<b>" * 10_000 + "x" + "</b>" * 10_000
    entries = [_atom_entry(1), _atom_entry(2, title=f"Deep {deep}")]
    report = import_text(_atom(entries))
    assert report.summary_line() == "created 1, merged 0, duplicates 0, rejected 1"
    (rejected,) = [o for o in report.outcomes if o.status == "rejected"]
    assert (rejected.line, rejected.label) == (8, "2101.00002v1")
    assert rejected.detail == "elements nested 10,002 levels deep (at most 32)"


def test_csl_json_nested_a_hundred_thousand_deep_is_refused_as_a_file():
    with pytest.raises(ImportFormatError, match="the JSON is nested too deeply to read"):
        import_text("[" * 100_000 + "]" * 100_000)


def test_hundreds_of_nested_latex_environments_reject_that_entry():
    deep = "\\begin{x}" * 400 + "y" + "\\end{x}" * 400
    report = import_text(f"@article{{deep, title = {{{deep}}}, year = 2020}}\n")
    (rejected,) = [o for o in report.outcomes if o.status == "rejected"]
    assert (rejected.line, rejected.detail) == (1, "the LaTeX is nested too deeply to read")
