"""Every record of every real sample file imports or is rejected with a reason."""

from pathlib import Path

import pytest
from django.conf import settings

from papers.importers import import_text
from papers.models import Paper

pytestmark = pytest.mark.django_db

DATA = settings.BASE_DIR.parent / "shared" / "data"
SAMPLES = sorted(
    [*DATA.glob("*.bib"), *DATA.glob("*.csl.json"), *DATA.glob("*.atom.xml")],
    key=lambda path: path.name,
)


def test_the_sample_files_are_there():
    assert {p.name for p in SAMPLES} >= {
        "phd-thesis-db.bib",
        "biblatex-examples.bib",
        "manuscript-references.csl.json",
        "arxiv-deep-dream.atom.xml",
    }


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.name)
def test_every_record_imports_or_is_rejected_with_a_reason(path):
    text = Path(path).read_text(encoding="utf-8")
    report = import_text(text)
    assert report.outcomes
    for outcome in report.outcomes:
        assert outcome.status in {"created", "merged", "duplicate", "rejected"}
        assert outcome.line, outcome
        if outcome.status == "rejected":
            assert outcome.detail, outcome
        else:
            assert Paper.objects.filter(pk=outcome.paper_id).exists(), outcome
    assert not Paper.objects.filter(title="").exists()


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.name)
def test_importing_a_sample_twice_changes_nothing(path):
    text = Path(path).read_text(encoding="utf-8")
    first = import_text(text)
    before = list(Paper.objects.order_by("pk").values())
    second = import_text(text)
    assert list(Paper.objects.order_by("pk").values()) == before
    counts = second.counts
    assert counts["created"] == counts["merged"] == 0
    assert counts["rejected"] == first.counts["rejected"]


def test_phd_thesis_counts_and_the_one_bad_doi_dropped_with_a_warning():
    report = import_text((DATA / "phd-thesis-db.bib").read_text(encoding="utf-8"))
    assert report.summary_line() == "created 55, merged 2, duplicates 0, rejected 0"
    (warned,) = report.warned
    assert (warned.line, warned.label, warned.status) == (920, "Grust96Monoid", "created")
    (warning,) = warned.warnings
    assert warning.startswith("field doi: ") and warning.endswith("is not a DOI; dropped")
    paper = Paper.objects.get(bibtex_key="Grust96Monoid")
    assert paper.doi == "" and paper.title


def test_biblatex_examples_resolve_string_concatenation_crossref_and_sets():
    report = import_text((DATA / "biblatex-examples.bib").read_text(encoding="utf-8"))
    assert {(o.label, o.detail) for o in report.outcomes if o.status == "rejected"} == {
        ("set", "a @set entry only groups other entries; it is not a paper"),
        ("stdmodel", "a @set entry only groups other entries; it is not a paper"),
    }
    # publisher = dtv # { and Walter de Gruyter} is not read, but the entry's title is decoded.
    assert Paper.objects.get(bibtex_key="nietzsche:ksa").title == (
        "Sämtliche Werke: Kritische Studienausgabe"
    )
    # crossref = {westfahl:frontier}: the collection's title becomes the venue.
    assert Paper.objects.get(bibtex_key="westfahl:space").venue == "Space and Beyond"
    assert Paper.objects.get(bibtex_key="itzhaki").title == (
        "Some remarks on 't Hooft's S-matrix for black holes"
    )


def test_csl_sample_keeps_the_wiley_doi_and_finds_arxiv_reports():
    import_text((DATA / "manuscript-references.csl.json").read_text(encoding="utf-8"))
    assert Paper.objects.filter(
        doi="10.1002/(sici)1097-0258(20000229)19:4<453::aid-sim350>3.0.co;2-5"
    ).exists()
    adam = Paper.objects.get(arxiv_id="1412.6980")
    assert adam.title == "Adam: A Method for Stochastic Optimization"
    assert not Paper.objects.filter(abstract__contains="<jats").exists()


def test_atom_sample_ids_lose_their_versions():
    report = import_text((DATA / "arxiv-deep-dream.atom.xml").read_text(encoding="utf-8"))
    assert report.summary_line() == "created 10, merged 0, duplicates 0, rejected 0"
    assert not Paper.objects.filter(arxiv_id__contains="v").exists()
    stacks = Paper.objects.get(arxiv_id="1403.7984")
    assert stacks.doi == "10.1007/s00209-015-1472-1"
    assert stacks.venue == "Mathematische Zeitschrift 280, 1185-1202, 2015"


@pytest.mark.parametrize("path", SAMPLES, ids=lambda path: path.name)
def test_a_sample_record_is_rejected_only_when_it_has_no_usable_title(path):
    report = import_text(Path(path).read_text(encoding="utf-8"))
    for outcome in report.outcomes:
        if outcome.status == "rejected":
            # biblatex's @set entries group other entries and have no title of their own.
            assert outcome.detail in {
                "no title",
                "a @set entry only groups other entries; it is not a paper",
            }, outcome
