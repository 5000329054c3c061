import pytest
from django.core.management import call_command

from papers.dedupe import find_duplicate_groups, same_paper_by_title
from papers.importers import import_text
from papers.models import Paper
from tests import factories

pytestmark = pytest.mark.django_db

PREPRINT = """@article{Koch2014incremental,
  title = {Incremental view maintenance for collection programming},
  author = {Koch, Christoph and Lupei, Daniel and Tannen, Val},
  journal = {arXiv:1412.4320 [cs]}, eprint = {1412.4320}, eprinttype = {arxiv},
  year = {2014},
}"""
PUBLISHED = """@inproceedings{Koch2016incremental,
  title = {Incremental View Maintenance for Collection Programming},
  author = {Koch, Christoph and Lupei, Daniel and Tannen, Val},
  booktitle = {Proceedings of the 35th {{ACM SIGMOD}} Symposium on Principles of Database Systems},
  doi = {10.1145/2902251.2902286},
  year = {2016},
}"""


def test_preprint_and_published_version_become_one_paper_with_both_identifiers():
    import_text(PREPRINT)
    report = import_text(PUBLISHED)
    assert report.summary_line() == "created 0, merged 1, duplicates 0, rejected 0"
    paper = Paper.objects.get()
    assert (paper.arxiv_id, paper.doi) == ("1412.4320", "10.1145/2902251.2902286")
    assert paper.venue.startswith("Proceedings of the 35th ACM SIGMOD")
    assert paper.year == 2016  # cited by the publication year
    assert paper.entry_type == "inproceedings"


def test_the_published_version_first_then_the_preprint_also_merges():
    import_text(PUBLISHED)
    report = import_text(PREPRINT)
    assert report.counts["merged"] == 1
    assert Paper.objects.get().arxiv_id == "1412.4320"


def test_real_thesis_file_merges_koch2014_and_koch2016():
    from django.conf import settings

    path = settings.BASE_DIR.parent / "shared" / "data" / "phd-thesis-db.bib"
    report = import_text(path.read_text(encoding="utf-8"))
    merged = [o for o in report.outcomes if o.label == "Koch2016incremental"]
    assert merged[0].status == "merged"
    paper = Paper.objects.get(doi="10.1145/2902251.2902286")
    assert paper.arxiv_id == "1412.4320"


def test_same_arxiv_id_in_another_version_is_a_duplicate():
    factories.make_paper(title="Attention", arxiv_id="1706.03762", year=2017)
    report = import_text(
        "@misc{v5, title = {Attention Is All You Need}, eprint = {1706.03762v5}, year = 2017}"
    )
    assert report.counts["merged"] == 1  # the bibtex key is new information
    assert Paper.objects.count() == 1


def test_same_doi_in_url_form_is_the_same_paper():
    factories.make_paper(title="X", doi="10.1145/abc")
    import_text("@article{a, title = {Other title}, doi = {https://doi.org/10.1145/ABC}}")
    assert Paper.objects.count() == 1


def test_a_differing_doi_vetoes_a_title_match():
    factories.make_paper(
        title="Deep Learning", authors=["Yann LeCun"], year=2015, doi="10.1038/nature14539"
    )
    report = import_text(
        "@article{b, title = {Deep learning}, author = {LeCun, Yann}, year = 2015, "
        "doi = {10.1000/other}}"
    )
    assert report.counts["created"] == 1
    assert Paper.objects.count() == 2


def test_title_match_needs_a_common_surname_and_close_years():
    base = factories.make_paper(title="Deep Learning", authors=["Yann LeCun"], year=2015)
    other_author = Paper(title="Deep learning", authors=["Ian Goodfellow"], year=2015)
    far_year = Paper(title="Deep learning", authors=["Yann LeCun"], year=2019)
    near_year = Paper(title="Deep  learning!", authors=["Y. LeCun"], year=2016)
    for paper in (other_author, far_year, near_year):
        paper.title_key = paper.title.lower().replace("!", "").replace("  ", " ")
    assert not same_paper_by_title(base, other_author)
    assert not same_paper_by_title(base, far_year)
    assert same_paper_by_title(base, near_year)


def test_dedupe_command_merges_title_duplicates_and_moves_notes_and_links(bob, alice):
    keep = factories.make_paper(
        title="Incremental view maintenance", authors=["Christoph Koch"], year=2014,
        arxiv_id="1412.4320", tags=["ivm"],
    )  # fmt: skip
    other = factories.make_paper(
        title="Incremental View Maintenance.", authors=["C. Koch"], year=2016,
        doi="10.1145/2902251.2902286", venue="PODS", tags=["databases"],
    )  # fmt: skip
    factories.make_note(paper=other, author=bob, summary="Bob's note")
    factories.make_note(paper=keep, author=alice, summary="Alice's note")
    question = factories.make_question()
    question.link_paper(other, stance="supports", rationale="Proves it", quote="Theorem 1")
    unrelated = factories.make_paper(title="Incremental view maintenance", authors=["Someone"])

    assert find_duplicate_groups() == [[keep, other]]
    call_command("dedupe_papers")

    keep.refresh_from_db()
    assert not Paper.objects.filter(pk=other.pk).exists()
    assert Paper.objects.filter(pk=unrelated.pk).exists()
    assert (keep.arxiv_id, keep.doi, keep.venue) == ("1412.4320", "10.1145/2902251.2902286", "PODS")
    assert sorted(keep.notes.values_list("summary", flat=True)) == ["Alice's note", "Bob's note"]
    assert sorted(t.name for t in keep.tags.all()) == ["databases", "ivm"]
    assert question.evidence.get().paper == keep
    assert find_duplicate_groups() == []


def test_dedupe_command_dry_run_changes_nothing(capsys):
    factories.make_paper(title="Same", authors=["A Person"], year=2020)
    factories.make_paper(title="same", authors=["A Person"], year=2020)
    call_command("dedupe_papers", "--dry-run")
    assert "1 group of duplicates, 1 paper to merge" in capsys.readouterr().out
    assert Paper.objects.count() == 2
