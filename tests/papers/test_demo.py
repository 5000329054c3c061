import io

import pytest

from papers import demo
from papers.models import Paper, PaperNote, ReadingState, ResearchQuestion
from tests import factories

pytestmark = pytest.mark.django_db


def _users():
    return {
        "alice": factories.make_user(username="alice", role="Lead"),
        "bob": factories.make_user(username="bob", role="Member"),
        "dana": factories.make_user(username="dana", role="Member"),
    }


def test_demo_imports_the_samples_and_adds_ml_papers_notes_and_questions():
    lora = factories.make_technique(name="LoRA")
    factories.make_technique(name="QLoRA")
    out = io.StringIO()
    demo.load(_users(), stdout=out)
    text = out.getvalue()
    assert "phd-thesis-db.bib: created 55, merged 2, duplicates 0, rejected 0" in text
    paper = Paper.objects.get(arxiv_id="2106.09685")
    assert list(paper.techniques.all()) == [lora]
    assert PaperNote.objects.filter(author__username="dana").count() == 3
    assert ReadingState.objects.get(paper__arxiv_id="2101.03961").state == "dropped"
    question = ResearchQuestion.objects.get(status="partly_answered")
    assert question.evidence.count() == 2 and question.revisions.count() == 1


def test_demo_without_sample_files_says_so_and_still_loads(settings, tmp_path):
    settings.BASE_DIR = tmp_path / "repo"
    out = io.StringIO()
    demo.load(_users(), stdout=out)
    assert "no sample bibliographies" in out.getvalue()
    assert Paper.objects.count() == len(demo.ML_PAPERS)


def test_demo_attaches_a_generated_pdf_that_the_worker_reads(django_capture_on_commit_callbacks):
    from papers.models import PaperPdf

    with django_capture_on_commit_callbacks(execute=True):
        demo.load(_users())
    pdf = PaperPdf.objects.get(paper__arxiv_id="2205.14135")
    assert pdf.state == PaperPdf.State.EXTRACTED, pdf.reason
    assert pdf.page_count == 2
    assert pdf.paper.passages.filter(page=1, text__contains="IO-aware").exists()
