import pytest

from papers.models import PaperNote
from tests import factories

pytestmark = pytest.mark.django_db

API = "/api/v1/papers"


def test_listing_papers_needs_a_login(client):
    assert client.get(f"{API}/").status_code == 401


def test_listing_papers_filters_and_pages(bob_client):
    factories.make_paper(title="DPO", year=2023, tags=["alignment"], arxiv_id="2305.18290")
    factories.make_paper(title="GQA", year=2023)
    factories.make_paper(title="Switch Transformer", year=2021)
    body = bob_client.get(f"{API}/", {"year": 2023, "limit": 1}).json()
    assert body["count"] == 2 and len(body["items"]) == 1
    tagged = bob_client.get(f"{API}/", {"tag": "alignment"}).json()
    assert [(p["title"], p["arxiv_id"], p["tags"]) for p in tagged["items"]] == [
        ("DPO", "2305.18290", ["alignment"])
    ]
    assert bob_client.get(f"{API}/", {"limit": 0}).status_code == 422


def test_reading_one_paper_and_a_missing_one(bob_client, alice):
    paper = factories.make_paper(title="vLLM", abstract="PagedAttention.")
    factories.make_note(paper=paper, author=alice, flag_reproducibility=True)
    body = bob_client.get(f"{API}/{paper.pk}").json()
    assert body["abstract"] == "PagedAttention."
    assert body["notes"][0]["author"] == "alice"
    assert body["notes"][0]["red_flags"] == ["Reproducibility concerns"]
    assert bob_client.get(f"{API}/999999").status_code == 404


def test_a_user_without_a_role_is_refused(charlie_client):
    paper = factories.make_paper()
    response = charlie_client.get(f"{API}/{paper.pk}")
    assert response.status_code == 403
    assert "papers.view_paper" in response.json()["detail"]


def test_creating_a_note_then_a_second_conflicts(bob_client, bob):
    paper = factories.make_paper()
    note = {
        "relevance": 4,
        "summary": "Grouped-query attention trades heads for memory.",
        "pass_reached": 2,
        "red_flags": {"missing_ablations": "No group-size sweep"},
        "robustness": 3,
    }
    created = bob_client.post(f"{API}/{paper.pk}/notes", note, content_type="application/json")
    assert created.status_code == 201
    assert created.json()["red_flags"] == ["Missing ablations"]
    saved = PaperNote.objects.get()
    assert (saved.author, saved.relevance, saved.flag_missing_ablations_comment) == (
        bob,
        4,
        "No group-size sweep",
    )
    again = bob_client.post(f"{API}/{paper.pk}/notes", note, content_type="application/json")
    assert again.status_code == 409


@pytest.mark.parametrize(
    "note, status, field",
    [
        ({"relevance": 6, "summary": "x"}, 422, "relevance"),
        ({"relevance": True, "summary": "x"}, 422, "relevance"),
        ({"relevance": "3", "summary": "x"}, 422, "relevance"),
        ({"relevance": 3, "summary": ""}, 422, "summary"),
        ({"relevance": 3, "summary": "x", "red_flags": {"vibes": "bad"}}, 400, "red_flags"),
    ],
)
def test_bad_notes_are_refused_and_nothing_is_saved(bob_client, note, status, field):
    paper = factories.make_paper()
    response = bob_client.post(f"{API}/{paper.pk}/notes", note, content_type="application/json")
    assert response.status_code == status
    assert field in {error["field"] for error in response.json()["errors"]}
    assert not PaperNote.objects.exists()


def test_openapi_declares_the_paper_endpoints(bob_client):
    paths = bob_client.get("/api/v1/openapi.json").json()["paths"]
    assert set(paths[f"{API}/{{paper_id}}/notes"]["post"]["responses"]) >= {
        "201", "400", "401", "403", "404", "409", "422",
    }  # fmt: skip


def test_the_paper_list_pages_with_ninjas_limit_and_offset(bob_client):
    for year in (2020, 2021, 2022):
        factories.make_paper(title=f"Paper {year}", year=year, tags=["one", "two"])
    # Newest first; an empty tag filter is no filter.
    body = bob_client.get(f"{API}/", {"limit": 2, "offset": 1, "tag": ""}).json()
    assert body["count"] == 3
    assert [paper["year"] for paper in body["items"]] == [2021, 2020]
    assert bob_client.get(f"{API}/", {"limit": 501}).status_code == 422
    assert len(bob_client.get(f"{API}/").json()["items"]) == 3
    schema = bob_client.get("/api/v1/openapi.json").json()
    page = schema["paths"]["/api/v1/papers/"]["get"]["responses"]["200"]["content"]
    assert page["application/json"]["schema"]["$ref"] == "#/components/schemas/PagedPaperOut"
