import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from papers.models import Paper, PaperNote, ReadingState
from tests import factories

pytestmark = pytest.mark.django_db


def _client_for(user):
    """A second logged-in client (the *_client fixtures share one Client)."""
    client = Client()
    client.force_login(user)
    return client


def test_paper_list_filters_by_year_tag_and_technique_and_paginates(bob_client):
    technique = factories.make_technique(name="IO-aware attention")
    flash = factories.make_paper(title="FlashAttention", year=2022, tags=["attention"])
    flash.techniques.add(technique)
    factories.make_paper(title="LoRA", year=2021, tags=["fine-tuning"])
    for number in range(30):
        factories.make_paper(title=f"Filler {number:02}", year=2019)
    url = reverse("papers:paper_list")

    assert "LoRA" in bob_client.get(url, {"year": 2021}).content.decode()
    assert "FlashAttention" not in bob_client.get(url, {"year": 2021}).content.decode()
    by_tag = bob_client.get(url, {"tag": "attention"}).content.decode()
    assert "FlashAttention" in by_tag and "LoRA" not in by_tag
    by_technique = bob_client.get(url, {"technique": technique.pk}).content.decode()
    assert "FlashAttention" in by_technique and "LoRA" not in by_technique
    first = bob_client.get(url, {"year": 2019}).content.decode()
    assert "30 papers" in first and "Page 1 of 2" in first
    assert "Filler 29" in bob_client.get(url, {"year": 2019, "page": 2}).content.decode()


def test_paper_list_htmx_returns_only_the_results_region(bob_client, htmx):
    factories.make_paper(title="Mamba", year=2023)
    full = bob_client.get(reverse("papers:paper_list"))
    fragment = bob_client.get(reverse("papers:paper_list"), headers=htmx)
    assert "<html" in full.content.decode()
    body = fragment.content.decode()
    assert "<html" not in body and 'id="paper-results"' in body and "Mamba" in body


def test_a_user_without_a_role_sees_no_papers(charlie_client):
    paper = factories.make_paper()
    assert charlie_client.get(reverse("papers:paper_list")).status_code == 403
    assert charlie_client.get(reverse("papers:paper_detail", args=[paper.pk])).status_code == 403


def test_paper_page_shows_metadata_notes_red_flags_and_links(bob_client, alice):
    technique = factories.make_technique(name="LoRA adapters")
    paper = factories.make_paper(
        title="LoRA", authors=["Edward Hu"], year=2021, arxiv_id="2106.09685", tags=["peft"]
    )
    paper.techniques.add(technique)
    factories.make_note(
        paper=paper, author=alice, summary="Low-rank adapters.", key_insight="**rank 8** is enough",
        flag_toy_datasets=True, flag_toy_datasets_comment="GLUE only",
    )  # fmt: skip
    question = factories.make_question(question="Is LoRA enough for us?")
    question.link_paper(paper, stance="supports", rationale="The method we use")
    body = bob_client.get(reverse("papers:paper_detail", args=[paper.pk])).content.decode()
    assert "2106.09685" in body and "Edward Hu" in body and "peft" in body
    assert "Low-rank adapters." in body and "<strong>rank 8</strong>" in body
    assert "Toy datasets only" in body and "GLUE only" in body
    assert "LoRA adapters" in body and "Is LoRA enough for us?" in body
    assert "Write a note" in body
    assert reverse("papers:similar", args=[paper.pk]) in body


def test_markdown_in_notes_is_sanitised(bob_client, bob):
    note = factories.make_note(
        author=bob, key_insight="<script>alert(1)</script> [x](javascript:y)"
    )
    body = bob_client.get(reverse("papers:paper_detail", args=[note.paper.pk])).content.decode()
    assert "<script>alert(1)" not in body
    assert "javascript:" not in body


def _note_data(**overrides):
    data = {
        "date_read": "2026-01-05",
        "relevance": "4",
        "pass_reached": "2",
        "time_spent_minutes": "45",
        "summary": "Adds low-rank adapters to frozen weights.",
        "production_viability": "likely_viable",
        "flag_weak_baselines": "on",
        "flag_weak_baselines_comment": "No full fine-tuning at equal compute",
        "robustness": "4",
    }
    data.update(overrides)
    return data


def test_writing_then_editing_my_note_keeps_one_note(bob_client, bob):
    paper = factories.make_paper()
    url = reverse("papers:note_edit", args=[paper.pk])
    assert bob_client.post(url, _note_data()).status_code == 302
    assert bob_client.post(url, _note_data(relevance="5")).status_code == 302
    note = PaperNote.objects.get()
    assert (note.author, note.relevance, note.pass_reached, note.robustness) == (bob, 5, 2, 4)
    assert note.raised_flags() == [
        ("Weak or missing baselines", "No full fine-tuning at equal compute")
    ]


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"relevance": "6"}, "relevance", "less than or equal to 5"),
        ({"relevance": "0"}, "relevance", "greater than or equal to 1"),
        ({"maintainability": "9"}, "maintainability", "less than or equal to 5"),
        ({"pass_reached": "4"}, "pass_reached", "not one of the available choices"),
        ({"summary": ""}, "summary", "This field is required"),
        ({"flag_toy_datasets_comment": "MNIST"}, "flag_toy_datasets", "without raising it"),
    ],
)
def test_note_form_rejects_bad_input_and_saves_nothing(bob_client, overrides, field, message):
    paper = factories.make_paper()
    response = bob_client.post(
        reverse("papers:note_edit", args=[paper.pk]), _note_data(**overrides)
    )
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors[field])
    assert not PaperNote.objects.exists()


def test_member_may_delete_own_note_but_not_someone_elses(bob_client, bob, alice):
    mine = factories.make_note(author=bob)
    theirs = factories.make_note(author=alice)
    refused = bob_client.post(reverse("papers:note_delete", args=[theirs.pk]))
    assert refused.status_code == 403
    assert PaperNote.objects.filter(pk=theirs.pk).exists()
    done = bob_client.post(reverse("papers:note_delete", args=[mine.pk]))
    assert done.status_code == 302
    assert not PaperNote.objects.filter(pk=mine.pk).exists()


def test_reading_state_plain_post_redirects(bob_client, bob):
    paper = factories.make_paper()
    url = reverse("papers:paper_reading_state", args=[paper.pk])
    response = bob_client.post(url, {"state": "pass_1"})
    assert response.status_code == 302 and response["Location"] == paper.get_absolute_url()
    assert ReadingState.objects.get(user=bob, paper=paper).state == "pass_1"


def test_reading_state_htmx_post_returns_the_control_in_place(bob_client, bob, htmx):
    paper = factories.make_paper()
    url = reverse("papers:paper_reading_state", args=[paper.pk])
    response = bob_client.post(url, {"state": "pass_2"}, headers=htmx)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section class="card" id="reading-state">')
    assert "Pass 2" in body and "<html" not in body


def test_dropping_a_paper_needs_a_reason(bob_client, bob, htmx):
    paper = factories.make_paper()
    url = reverse("papers:paper_reading_state", args=[paper.pk])
    plain = bob_client.post(url, {"state": "dropped"})
    assert plain.status_code == 400
    assert "Say why you dropped the paper." in plain.content.decode()
    in_place = bob_client.post(url, {"state": "dropped"}, headers=htmx)
    assert "Say why you dropped the paper." in in_place.content.decode()
    assert not ReadingState.objects.exists()
    bob_client.post(url, {"state": "dropped", "dropped_reason": "Toy datasets only"})
    assert ReadingState.objects.get().dropped_reason == "Toy datasets only"


def test_reading_queue_lists_my_papers_by_state(bob_client, bob, alice):
    queued = factories.make_paper(title="Queued paper")
    dropped = factories.make_paper(title="Dropped paper")
    someone_elses = factories.make_paper(title="Alice's paper")
    ReadingState.record(user=bob, paper=queued, state="to_read")
    ReadingState.record(user=bob, paper=dropped, state="dropped", dropped_reason="Irrelevant")
    ReadingState.record(user=alice, paper=someone_elses, state="to_read")
    body = bob_client.get(reverse("papers:reading_queue")).content.decode()
    assert "Queued paper" in body and "Irrelevant" in body
    assert "Alice's paper" not in body


def test_home_panel_shows_my_queue_and_open_questions(bob_client, bob):
    paper = factories.make_paper(title="Speculative decoding")
    ReadingState.record(user=bob, paper=paper, state="pass_1")
    factories.make_question(question="Does speculative decoding pay off?")
    factories.make_question(question="Settled already", status="answered")
    body = bob_client.get(reverse("papers:home_panel")).content.decode()
    assert "Speculative decoding" in body and "Does speculative decoding pay off?" in body
    assert "Settled already" not in body


def test_import_upload_shows_the_per_record_report(bob_client):
    upload = SimpleUploadedFile(
        "refs.bib",
        b"@article{ok, title = {Good}, year = 2020}\n@article{bad, title = {Bad}, year = {soon}}\n"
        b"@article{none, year = 2021}\n",
    )
    response = bob_client.post(reverse("papers:paper_import"), {"file": upload})
    body = response.content.decode()
    assert response.status_code == 200
    assert "created 2, merged 0, duplicates 0, rejected 1" in body
    assert "field year: &#x27;soon&#x27; is not a year (expected e.g. 2016); dropped" in body
    assert "no title" in body
    assert sorted(Paper.objects.values_list("title", flat=True)) == ["Bad", "Good"]


def test_import_upload_over_the_size_limit_is_refused(bob_client, settings):
    settings.ASSAY_MAX_UPLOAD_BYTES = 100
    upload = SimpleUploadedFile("big.bib", b"@article{x, title = {" + b"a" * 200 + b"}}")
    response = bob_client.post(reverse("papers:paper_import"), {"file": upload})
    assert response.status_code == 400
    assert "the limit is 100" in response.content.decode()
    assert not Paper.objects.exists()


def test_import_upload_of_a_file_in_no_known_format_is_refused(bob_client):
    upload = SimpleUploadedFile("feed.xml", b"<feed><entry></feed>")
    response = bob_client.post(reverse("papers:paper_import"), {"file": upload})
    assert response.status_code == 400
    assert "not well-formed XML" in response.content.decode()


def test_export_download(bob_client):
    factories.make_paper(title="Mamba", arxiv_id="2312.00752", authors=["Albert Gu"], year=2023)
    response = bob_client.get(reverse("papers:paper_export"), {"format": "bibtex"})
    assert response["Content-Disposition"].endswith('.bib"')
    assert "eprint = {2312.00752}" in response.content.decode()
    assert bob_client.get(reverse("papers:paper_export"), {"format": "doc"}).status_code == 404


def test_merge_needs_a_lead_confirms_on_get_and_merges_on_post(alice_client, bob):
    keep = factories.make_paper(title="QLoRA", arxiv_id="2305.14314")
    other = factories.make_paper(title="QLoRA (NeurIPS)", doi="10.5555/qlora", venue="NeurIPS")
    factories.make_note(paper=other, author=bob)
    url = reverse("papers:paper_merge")
    query = {"keep": keep.pk, "merge": other.pk}
    assert _client_for(bob).get(url, query).status_code == 403

    confirm = alice_client.get(url, query)
    assert confirm.status_code == 200
    assert "will be folded into" in confirm.content.decode()
    assert Paper.objects.count() == 2

    response = alice_client.post(url, query)
    assert response.status_code == 302
    keep.refresh_from_db()
    assert (keep.arxiv_id, keep.doi, keep.venue) == ("2305.14314", "10.5555/qlora", "NeurIPS")
    assert keep.notes.get().author == bob
    assert not Paper.objects.filter(pk=other.pk).exists()


def test_merging_a_paper_into_itself_is_refused(alice_client):
    paper = factories.make_paper()
    response = alice_client.post(
        reverse("papers:paper_merge"), {"keep": paper.pk, "merge": paper.pk}
    )
    assert response.status_code == 400
    assert "two different papers" in response.content.decode()
