"""Adding and editing a paper by hand, and linking it to techniques and experiments."""

from unittest import mock

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from papers import dedupe
from papers.forms import split_authors
from papers.models import Paper
from tests import factories

pytestmark = pytest.mark.django_db


def _data(**overrides):
    data = {
        "title": "LoRA:  Low-Rank Adaptation of Large Language Models",
        "authors": "Edward J. Hu\nShen, Yelong\n",
        "year": "2021",
        "venue": "ICLR 2022",
        "entry_type": "inproceedings",
        "abstract": "We propose Low-Rank Adaptation.",
        "arxiv_id": "https://arxiv.org/abs/2106.09685v2",
        "doi": "",
        "url": "https://openreview.net/forum?id=nZeVKeeFYf9",
        "tags": "peft, fine-tuning",
    }
    data.update(overrides)
    return data


def test_paper_list_links_to_add_paper_for_those_who_may_add(bob_client, django_user_model):
    page = bob_client.get(reverse("papers:paper_list")).content.decode()
    assert f'href="{reverse("papers:paper_create")}"' in page
    reader = django_user_model.objects.create_user("reader")
    reader.user_permissions.add(Permission.objects.get(codename="view_paper"))
    reader_client = Client()
    reader_client.force_login(reader)
    page = reader_client.get(reverse("papers:paper_list")).content.decode()
    assert reverse("papers:paper_create") not in page
    assert reader_client.get(reverse("papers:paper_create")).status_code == 403


def test_member_adds_a_paper_with_normalised_identifiers(bob_client):
    form = bob_client.get(reverse("papers:paper_create"))
    assert form.status_code == 200 and 'name="arxiv_id"' in form.content.decode()
    response = bob_client.post(reverse("papers:paper_create"), _data())
    paper = Paper.objects.get()
    assert response.status_code == 302 and response["Location"] == paper.get_absolute_url()
    assert paper.title == "LoRA: Low-Rank Adaptation of Large Language Models"
    assert paper.authors == ["Edward J. Hu", "Yelong Shen"]
    assert (paper.year, paper.venue, paper.entry_type) == (2021, "ICLR 2022", "inproceedings")
    assert (paper.arxiv_id, paper.doi) == ("2106.09685", "")
    assert sorted(tag.name for tag in paper.tags.all()) == ["fine-tuning", "peft"]
    page = bob_client.get(paper.get_absolute_url()).content.decode()
    assert "Added “LoRA: Low-Rank Adaptation of Large Language Models”." in page


def test_doi_link_is_normalised_and_arxiv_doi_becomes_the_arxiv_id(bob_client):
    bob_client.post(
        reverse("papers:paper_create"),
        _data(title="XGBoost", arxiv_id="", doi="https://doi.org/10.1145/2939672.2939785"),
    )
    bob_client.post(
        reverse("papers:paper_create"),
        _data(title="Attention is all you need", arxiv_id="", doi="10.48550/arXiv.1706.03762"),
    )
    assert Paper.objects.get(title="XGBoost").doi == "10.1145/2939672.2939785"
    attention = Paper.objects.get(title="Attention is all you need")
    assert (attention.arxiv_id, attention.doi) == ("1706.03762", "")


def test_authors_separated_by_semicolons():
    assert split_authors("Ashish Vaswani; Noam Shazeer;  Parmar, Niki ;") == [
        "Ashish Vaswani",
        "Noam Shazeer",
        "Niki Parmar",
    ]


def test_bad_identifiers_are_refused_with_the_reason(bob_client):
    response = bob_client.post(
        reverse("papers:paper_create"), _data(arxiv_id="not-an-id", doi="doi:nope", year="20")
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "“not-an-id” is not an arXiv id" in body
    assert "“doi:nope” is not a DOI" in body
    assert "greater than or equal to 1000" in body
    assert not Paper.objects.exists()


@pytest.mark.parametrize(
    ("existing", "typed", "field"),
    [
        ({"arxiv_id": "2106.09685"}, {"arxiv_id": "arXiv:2106.09685v1"}, "arxiv_id"),
        ({"doi": "10.1145/2939672.2939785"}, {"doi": "DOI:10.1145/2939672.2939785"}, "doi"),
        # dedupe's title rule: same title, an author in common, years at most one apart.
        ({"authors": ["Edward Hu"], "year": 2022}, {"arxiv_id": ""}, None),
    ],
)
def test_a_paper_already_in_the_library_is_refused_with_a_link(bob_client, existing, typed, field):
    existing.setdefault("title", "LoRA: Low-Rank Adaptation of Large Language Models")
    paper = factories.make_paper(**existing)
    response = bob_client.post(reverse("papers:paper_create"), _data(**typed))
    assert response.status_code == 400
    body = response.content.decode()
    assert f'<a href="{paper.get_absolute_url()}">{paper.title}</a>' in body
    # One clear error, where it belongs, and not the model's bare constraint message as well.
    errors = response.context["form"].errors
    assert list(errors) == [field or "__all__"]
    assert errors[field or "__all__"][0].startswith("The library already has this paper")
    assert Paper.objects.count() == 1


def test_same_title_by_other_authors_is_a_different_paper(bob_client):
    factories.make_paper(title="Scaling Laws", authors=["Someone Else"], year=2021)
    response = bob_client.post(reverse("papers:paper_create"), _data(title="Scaling laws"))
    assert response.status_code == 302
    assert Paper.objects.count() == 2


def test_duplicate_title_is_escaped_in_the_link(bob_client):
    factories.make_paper(title="<b>Bold</b> claims", arxiv_id="2101.00001")
    body = bob_client.post(
        reverse("papers:paper_create"), _data(title="Other", arxiv_id="2101.00001")
    ).content.decode()
    assert "&lt;b&gt;Bold&lt;/b&gt; claims</a>" in body


def test_a_paper_saved_at_the_same_moment_is_reported_with_its_link(bob_client):
    # Another request saved the arXiv id between this form's checks and its insert: the
    # checks are made to miss it once, so the insert hits the unique constraint.
    existing = factories.make_paper(title="Saved meanwhile", arxiv_id="2106.09685")
    find_matches = dedupe.find_matches
    checks = []

    def misses_the_first_time(candidate):
        checks.append(candidate)
        return [] if len(checks) == 1 else find_matches(candidate)

    with (
        mock.patch("papers.forms.dedupe.find_matches", side_effect=misses_the_first_time),
        mock.patch.object(Paper, "validate_constraints"),
    ):
        response = bob_client.post(reverse("papers:paper_create"), _data())
    assert response.status_code == 400
    assert (
        f'<a href="{existing.get_absolute_url()}">Saved meanwhile</a>' in response.content.decode()
    )
    assert Paper.objects.count() == 1


def test_member_edits_a_papers_metadata(bob_client):
    paper = factories.make_paper(
        title="Lora", authors=["Edward Hu"], year=2021, arxiv_id="2106.09685", tags=["peft"]
    )
    url = reverse("papers:paper_edit", args=[paper.pk])
    page = bob_client.get(paper.get_absolute_url()).content.decode()
    assert f'href="{url}"' in page
    form = bob_client.get(url).content.decode()
    assert "2106.09685" in form and "Edward Hu</textarea>" in form and 'value="peft"' in form
    response = bob_client.post(
        url,
        _data(title="LoRA", arxiv_id="2106.09685", doi="10.48550/arXiv.2106.09685", tags="lora"),
    )
    assert response.status_code == 302
    paper.refresh_from_db()
    assert (paper.title, paper.venue, paper.arxiv_id) == ("LoRA", "ICLR 2022", "2106.09685")
    assert [tag.name for tag in paper.tags.all()] == ["lora"]


def test_edit_refuses_another_papers_identifier(bob_client):
    other = factories.make_paper(title="QLoRA", doi="10.5555/qlora")
    paper = factories.make_paper(title="LoRA")
    response = bob_client.post(
        reverse("papers:paper_edit", args=[paper.pk]), _data(title="LoRA", doi="10.5555/QLoRA")
    )
    assert response.status_code == 400
    assert f'<a href="{other.get_absolute_url()}">QLoRA</a>' in response.content.decode()
    paper.refresh_from_db()
    assert paper.doi == ""


def test_user_without_a_role_cannot_add_or_edit(charlie_client):
    paper = factories.make_paper(title="LoRA")
    assert charlie_client.post(reverse("papers:paper_create"), _data()).status_code == 403
    edit = reverse("papers:paper_edit", args=[paper.pk])
    assert charlie_client.post(edit, _data(title="Hacked")).status_code == 403
    assert Paper.objects.get().title == "LoRA"


# --- links to techniques and experiments ---


def test_paper_page_links_its_experiments(bob_client):
    paper = factories.make_paper(title="FlashAttention")
    experiment = factories.make_experiment(title="FA2 on the 7B")
    paper.experiments.add(experiment)
    page = bob_client.get(paper.get_absolute_url()).content.decode()
    detail = reverse("experiments:experiment_detail", args=[experiment.pk])
    assert f'<a href="{detail}">{experiment.key} FA2 on the 7B</a>' in page


def test_member_links_a_technique_and_an_experiment_in_place(bob_client, htmx):
    paper = factories.make_paper(title="FlashAttention")
    technique = factories.make_technique(name="IO-aware attention")
    experiment = factories.make_experiment(title="FA2 on the 7B")
    url = reverse("papers:paper_link", args=[paper.pk])
    response = bob_client.post(
        url, {"technique": technique.pk, "experiment": experiment.pk}, headers=htmx
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="paper-links">')
    assert f'<a href="{technique.get_absolute_url()}">IO-aware attention</a>' in body
    assert reverse("experiments:experiment_detail", args=[experiment.pk]) in body
    assert list(paper.techniques.all()) == [technique]
    assert list(paper.experiments.all()) == [experiment]
    # What is linked is no longer offered.
    assert f'<option value="{technique.pk}">' not in body


def test_linking_with_a_plain_post_redirects_to_the_paper(bob_client):
    paper = factories.make_paper(title="FlashAttention")
    experiment = factories.make_experiment()
    response = bob_client.post(
        reverse("papers:paper_link", args=[paper.pk]), {"experiment": experiment.pk}
    )
    assert response.status_code == 302 and response["Location"] == paper.get_absolute_url()
    assert list(paper.experiments.all()) == [experiment]


def test_linking_nothing_is_an_error_with_and_without_htmx(bob_client, htmx):
    paper = factories.make_paper(title="FlashAttention")
    url = reverse("papers:paper_link", args=[paper.pk])
    in_place = bob_client.post(url, {"technique": ""}, headers=htmx)
    assert in_place.status_code == 200
    assert "Choose a technique or an experiment." in in_place.content.decode()
    plain = bob_client.post(url, {"technique": "999999"})
    assert plain.status_code == 400
    assert "Select a valid choice" in plain.content.decode()


def test_member_unlinks_with_and_without_htmx(bob_client, htmx):
    paper = factories.make_paper(title="FlashAttention")
    technique = factories.make_technique(name="IO-aware attention")
    experiment = factories.make_experiment()
    paper.techniques.add(technique)
    paper.experiments.add(experiment)
    url = reverse("papers:paper_unlink", args=[paper.pk])
    body = bob_client.post(url, {"technique": technique.pk}, headers=htmx).content.decode()
    assert 'id="paper-links"' in body and "IO-aware attention</a>" not in body
    assert not paper.techniques.exists()
    response = bob_client.post(url, {"experiment": experiment.pk})
    assert response.status_code == 302
    assert not paper.experiments.exists()


def test_user_without_a_role_cannot_link(charlie_client):
    paper = factories.make_paper(title="FlashAttention")
    technique = factories.make_technique()
    url = reverse("papers:paper_link", args=[paper.pk])
    assert charlie_client.post(url, {"technique": technique.pk}).status_code == 403
    assert not paper.techniques.exists()


def test_arxiv_doi_naming_another_preprint_than_the_arxiv_id_is_refused(bob_client):
    response = bob_client.post(
        reverse("papers:paper_create"),
        _data(arxiv_id="2106.09685", doi="https://doi.org/10.48550/arXiv.1706.03762"),
    )
    assert response.status_code == 400
    assert "arXiv's DOI for 1706.03762" in response.context["form"].errors["doi"][0]
    assert not Paper.objects.exists()
