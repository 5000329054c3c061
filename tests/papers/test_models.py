import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from papers.models import Paper, PaperNote, ReadingState
from tests import factories

pytestmark = pytest.mark.django_db


def test_saving_a_paper_normalises_its_identifiers_and_title():
    paper = factories.make_paper(
        title="  Adam:\n A Method ", doi="https://doi.org/10.48550/arXiv.1412.6980v9"
    )
    assert (paper.title, paper.doi, paper.arxiv_id) == ("Adam: A Method", "", "1412.6980")
    assert paper.title_key == "adam a method"


def test_the_database_refuses_two_papers_with_one_arxiv_id_or_doi():
    factories.make_paper(arxiv_id="1412.6980", doi="10.1000/x")
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.make_paper(arxiv_id="arXiv:1412.6980v2")
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.make_paper(doi="https://doi.org/10.1000/X")
    factories.make_paper()  # blank identifiers are not duplicates of each other
    factories.make_paper()


def test_paper_validation_names_the_bad_field():
    with pytest.raises(ValidationError) as error:
        Paper(title="x", year=20, doi="not a doi", arxiv_id="nope").full_clean()
    assert set(error.value.message_dict) == {"year", "doi", "arxiv_id"}


def test_the_database_refuses_scores_out_of_range(bob):
    note = factories.make_note(author=bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        PaperNote.objects.filter(pk=note.pk).update(relevance=7)
    with pytest.raises(IntegrityError), transaction.atomic():
        PaperNote.objects.filter(pk=note.pk).update(robustness=0)


def test_one_note_per_reader_per_paper(bob):
    note = factories.make_note(author=bob)
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.make_note(author=bob, paper=note.paper)


def test_only_the_author_may_delete_a_note(bob, alice):
    note = factories.make_note(author=alice)
    with pytest.raises(PermissionDenied):
        note.delete_by(bob)
    note.delete_by(alice)
    assert not PaperNote.objects.exists()


def test_dropped_needs_a_reason_in_the_model_and_the_database(bob):
    paper = factories.make_paper()
    with pytest.raises(ValidationError):
        ReadingState.record(user=bob, paper=paper, state="dropped")
    assert not ReadingState.objects.exists()
    with pytest.raises(IntegrityError), transaction.atomic():
        ReadingState.objects.create(user=bob, paper=paper, state="dropped")


def test_merge_keeps_the_keepers_note_filled_in_and_the_furthest_reading(bob):
    keep = factories.make_paper(title="Keep")
    other = factories.make_paper(title="Other", arxiv_id="2106.09685", abstract="From the other")
    factories.make_note(paper=keep, author=bob, summary="Mine", key_insight="")
    factories.make_note(paper=other, author=bob, summary="Older", key_insight="Low rank")
    ReadingState.record(user=bob, paper=keep, state="to_read")
    ReadingState.record(user=bob, paper=other, state="pass_2")

    other.merge_into(keep)

    keep.refresh_from_db()
    note = keep.notes.get()
    assert (note.summary, note.key_insight) == ("Mine", "Low rank")
    assert keep.reading_states.get().state == "pass_2"
    assert (keep.arxiv_id, keep.abstract) == ("2106.09685", "From the other")
    assert list(Paper.objects.all()) == [keep]


def test_a_paper_cannot_merge_into_itself():
    paper = factories.make_paper()
    with pytest.raises(ValueError, match="itself"):
        paper.merge_into(paper)


def test_red_flag_summary_counts_readers_and_collects_comments(bob, alice):
    paper = factories.make_paper()
    factories.make_note(paper=paper, author=bob, flag_toy_datasets=True)
    factories.make_note(
        paper=paper, author=alice, flag_toy_datasets=True, flag_toy_datasets_comment="MNIST"
    )
    assert paper.red_flag_summary() == [("Toy datasets only", 2, ["MNIST"])]
