from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from papers import embeddings, keyword, vector_index
from papers.models import IndexState, Paper, PaperEmbedding, Passage, PassageEmbedding
from papers.search import search
from papers.tasks import reconcile_indexes, reindex_model
from tests.factories import make_paper


def titles(results):
    return [result.paper.title for result in results]


def test_new_paper_is_embedded_indexed_and_findable(db, fake_models, on_commit):
    with on_commit():
        paper = make_paper(title="Sparse mixture of experts", abstract="Routing tokens to experts")
    assert PaperEmbedding.objects.filter(paper=paper).count() == 2
    assert keyword.keyword_search("sparse experts").hits[0][0] == paper.pk
    state = IndexState.objects.get(model="bow")
    assert (state.version, state.count, state.status) == (1, 1, "done")
    assert titles(search("experts routing", mode="dense")) == ["Sparse mixture of experts"]
    assert titles(search("experts routing", mode="keyword")) == ["Sparse mixture of experts"]


def test_edited_paper_is_re_embedded_and_found_by_its_new_text(db, fake_models, on_commit):
    with on_commit():
        paper = make_paper(title="Convolutional networks", abstract="Image classification")
    first_vector = PaperEmbedding.objects.get(paper=paper, model="bow")
    with on_commit():
        paper.title = "Quantum annealing schedules"
        paper.save()
    vector = PaperEmbedding.objects.get(paper=paper, model="bow")
    assert vector.pk != first_vector.pk
    assert vector.content_hash != first_vector.content_hash
    for mode in ("dense", "keyword", "hybrid"):
        assert titles(search("quantum annealing", mode=mode)) == ["Quantum annealing schedules"]
    assert search("convolutional", mode="keyword") == []


def test_deleted_paper_is_never_returned_even_before_the_index_catches_up(
    db, fake_models, on_commit
):
    with on_commit():
        kept = make_paper(title="Graph attention networks")
        gone = make_paper(title="Graph convolution networks")
    # Deleted without running the after-commit work: the index file still holds it.
    gone.delete()
    assert IndexState.objects.get(model="bow").count == 2
    for mode in ("dense", "keyword", "hybrid"):
        assert titles(search("graph networks", mode=mode)) == [kept.title]


def test_deleting_a_paper_removes_it_from_every_index(db, fake_models, on_commit):
    with on_commit():
        paper = make_paper(title="Dropout")
        make_paper(title="Batch normalisation")
    with on_commit():
        paper.delete()
    for model in fake_models:
        state = IndexState.objects.get(model=model)
        assert (state.version, state.count) == (2, 1)
        assert vector_index.current_index(model).paper_ids.tolist() != [paper.pk]


def test_reindex_rebuilds_to_a_new_version_and_prunes_old_files(db, fake_models, on_commit):
    with on_commit():
        make_paper(title="Low-rank adaptation")
    for _ in range(3):
        call_command("reindex", "--model", "bow", verbosity=0)
    state = IndexState.objects.get(model="bow")
    assert (state.version, state.count, state.status) == (4, 1, "done")
    files = sorted(path.name for path in vector_index.index_dir().glob("bow-*"))
    assert files == [
        f"bow-v{v}{suffix}" for v in (3, 4) for suffix in (".faiss", ".ids.npy", ".json")
    ]
    manifest = vector_index.read_manifest("bow", 4)
    assert manifest["count"] == 1 and manifest["kind"] == "flat"


def test_check_index_reports_stale_vectors_and_reindex_if_needed_fixes_them(
    db, fake_models, on_commit
):
    with on_commit():
        paper = make_paper(title="Speculative decoding")
    call_command("check_index")  # in sync: no error
    # An edit that bypasses signals (a bulk update) leaves the vector stale.
    Paper.objects.filter(pk=paper.pk).update(abstract="Draft models propose tokens")
    out = StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("check_index", "--model", "bow", stdout=out)
    assert raised.value.returncode == 1
    assert "1 papers changed since their bow vector was made" in out.getvalue()

    call_command("reindex", "--if-needed", verbosity=0)
    call_command("check_index")
    assert titles(search("draft models propose", mode="dense")) == ["Speculative decoding"]


def test_check_index_reports_a_missing_index_file_and_search_still_works(
    db, fake_models, on_commit
):
    with on_commit():
        make_paper(title="Mixture of depths")
    for path in vector_index.index_dir().glob("bow-*"):
        path.unlink()
    vector_index._loaded.clear()  # as in a fresh process on another host
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("check_index", stdout=out)
    assert "index file v1 is missing" in out.getvalue()
    assert titles(search("mixture depths", mode="dense")) == ["Mixture of depths"]


def test_papers_added_behind_the_signals_back_are_found_after_reconcile(db, fake_models, on_commit):
    Paper.objects.bulk_create([Paper(title="State space models"), Paper(title="Linear attention")])
    assert search("state space", mode="keyword") == []
    with on_commit():
        assert sorted(reconcile_indexes()) == ["bow", "words"]
    assert titles(search("state space", mode="keyword")) == ["State space models"]
    assert titles(search("state space models", mode="dense"))[0] == "State space models"
    assert reconcile_indexes() == []  # nothing drifted any more


def test_a_run_killed_half_way_is_finished_by_the_next(db, fake_models, on_commit, monkeypatch):
    with on_commit():
        make_paper(title="Flash attention")
    Paper.objects.bulk_create([Paper(title=f"Paper number {n}") for n in range(5)])
    monkeypatch.setattr(embeddings, "BATCHES_PER_WRITE", 1)
    monkeypatch.setattr(settings, "ASSAY_EMBEDDING_BATCH_SIZE", 2)
    calls = []
    real_encode = embeddings.Embedder.encode

    def dies_on_second_batch(self, texts, batch_size=None):
        calls.append(texts)
        if len(calls) == 2:
            raise SystemExit("worker killed")  # not an Exception: nothing marks the run failed
        return real_encode(self, texts, batch_size)

    monkeypatch.setattr(embeddings.Embedder, "encode", dies_on_second_batch)
    with pytest.raises(SystemExit):
        reindex_model("bow")
    state = IndexState.objects.get(model="bow")
    assert state.status == "running"
    assert PaperEmbedding.objects.filter(model="bow").count() == 3  # first batch kept
    monkeypatch.setattr(embeddings.Embedder, "encode", real_encode)

    assert reindex_model("bow") is False  # the dead run still looks alive
    IndexState.objects.filter(model="bow").update(heartbeat=timezone.now() - timedelta(hours=1))
    assert reindex_model("bow") is True
    state.refresh_from_db()
    assert (state.status, state.count) == ("done", 6)
    assert vector_index.check("bow").ok


def test_index_switches_to_hnsw_above_the_threshold(db, fake_models, on_commit, settings):
    settings.ASSAY_ANN_THRESHOLD = 3
    with on_commit():
        papers = [make_paper(title=f"Topic {word}") for word in ("alpha", "beta", "gamma")]
    assert IndexState.objects.get(model="bow").kind == "flat"
    with on_commit():
        make_paper(title="Topic delta")
    assert IndexState.objects.get(model="bow").kind == "hnsw"
    assert titles(search("topic delta", mode="dense"))[0] == "Topic delta"
    with on_commit():
        papers[0].delete()  # back to 3 vectors: rebuilt as an exact index
    state = IndexState.objects.get(model="bow")
    assert (state.kind, state.count) == ("flat", 3)
    assert vector_index.check("bow").ok


def test_one_transaction_of_many_edits_runs_one_round_of_tasks(db, fake_models, on_commit):
    with on_commit() as callbacks:
        for n in range(20):
            make_paper(title=f"Imported paper {n}", tags=["imported"])
    state = IndexState.objects.get(model="bow")
    assert (state.version, state.count) == (1, 20)  # one index write, not twenty
    assert len(callbacks) >= 20  # every save asked; the first took all the ids
    keyword_state = IndexState.objects.get(model=keyword.KEYWORD_STATE)
    assert keyword_state.version == 1  # built once, by the first round
    assert len(keyword.keyword_search("imported", limit=50).hits) == 20


def test_passages_reach_keyword_search_through_the_signals(db, fake_models, on_commit):
    with on_commit():
        paper = make_paper(title="Flash attention")
        passage = Passage.objects.create(
            paper=paper, page=5, ordinal=0, text="Tiling keeps blocks in on-chip SRAM"
        )
    [result] = search("sram tiling", mode="keyword")
    assert (result.paper, result.passage) == (paper, passage)
    with on_commit():
        passage.text = "Recomputation in the backward pass"
        passage.save()
    assert search("sram tiling", mode="keyword") == []
    assert search("recomputation", mode="keyword")[0].passage == passage
    with on_commit():
        passage.delete()
    assert search("recomputation", mode="keyword") == []
    assert titles(search("flash attention", mode="keyword")) == ["Flash attention"]


def test_reindex_rebuilds_the_keyword_index_to_a_new_version(db, fake_models, on_commit):
    with on_commit():
        make_paper(title="Grouped query attention")
    out = StringIO()
    for _ in range(3):
        call_command("reindex", "--model", "bow", stdout=out)
    state = IndexState.objects.get(model=keyword.KEYWORD_STATE)
    assert (state.version, state.count, state.status) == (4, 1, "done")
    assert "keyword: index v4, 1 papers written" in out.getvalue()
    kept = sorted(path.name for path in keyword.index_dir().glob("keyword-v*"))
    assert kept == ["keyword-v3", "keyword-v3.json", "keyword-v4", "keyword-v4.json"]
    assert titles(search("grouped query", mode="keyword")) == ["Grouped query attention"]
    call_command("reindex", "--if-needed", stdout=out)
    assert IndexState.objects.get(model=keyword.KEYWORD_STATE).version == 4  # nothing to do
    call_command("check_index", stdout=out)
    assert "keyword: in sync" in out.getvalue()


def test_passages_are_embedded_and_found_by_dense_search(db, fake_models, on_commit):
    with on_commit():
        paper = make_paper(title="Scaling laws", abstract="Loss falls as a power of compute")
        make_paper(title="Data pruning", abstract="Fewer examples, same loss")
        passage = Passage.objects.create(
            paper=paper, page=9, ordinal=0, text="chinchilla tokens per parameter ratio"
        )
    assert PassageEmbedding.objects.filter(passage=passage).count() == 2  # one per model
    state = IndexState.objects.get(model=vector_index.passage_index_name("bow"))
    assert (state.version, state.count) == (1, 1)
    [first, *_] = search("chinchilla tokens per parameter", mode="dense")
    assert (first.paper, first.passage) == (paper, passage)
    assert first.highlights["source"] == "passage"
    with on_commit():
        passage.delete()
    assert IndexState.objects.get(model=vector_index.passage_index_name("bow")).count == 0
    assert all(r.passage is None for r in search("chinchilla tokens", mode="dense"))


def test_check_index_reports_passages_without_vectors(db, fake_models, on_commit):
    with on_commit():
        paper = make_paper(title="Mamba")
    Passage.objects.bulk_create([Passage(paper=paper, page=1, ordinal=0, text="selective scan")])
    assert "1 passages have no bow vector" in vector_index.check("bow").problems
    with on_commit():
        assert "bow" in reconcile_indexes()
    assert vector_index.check("bow").ok
    assert search("selective scan", mode="dense")[0].passage.text == "selective scan"
