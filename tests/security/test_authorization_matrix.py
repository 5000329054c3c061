"""Every page and endpoint against every kind of caller (issue 5, "Bad input and security").

The URL list is not written down here: it is read from the project's resolver and from the
served OpenAPI document, so a page or endpoint added later is checked automatically. A URL
with a path parameter this file does not know yet fails with a message saying what to add to
`url_kwargs`, rather than being skipped.

Callers: anonymous, charlie (logged in, no role), bob (Member, not the experiment's owner),
alice (Lead), and for the API a token of another experiment. The expectations are rules,
plus explicit tables for the special cases (Lead-only actions, owner-or-Lead actions, public
pages, token endpoints).
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests import factories

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
# Reachable without logging in.
PUBLIC = {"healthz", "login", "logout", "admin_login"}
# Decisions only a Lead may take: a Member gets 403 for every method.
LEAD_ONLY = {
    "radar:technique_move",
    "review:review_create",
    "review:review_move",
    "review:nomination_accept",
    "review:nomination_decline",
    "review:review_reassign",
    "review:review_minutes_edit",
    "review:deep_dive_add",
    "review:deep_dive_decide",
    "radar:radar_import",
    "experiments:gate_decide",
    "experiments:runs_carry_over",
    "experiments:supersede_proposal_decide",
    "experiments:proposal_decide",
    "papers:paper_merge",
    "papers:question_unlink",
    "papers:index_rebuild",
}
# Changes to an experiment: its owner (dana here) or a Lead. bob, a Member who does not own
# the experiment, gets 403.
OWNER_OR_LEAD = {
    "experiments:experiment_edit",
    "experiments:criterion_add",
    "experiments:criterion_supersede",
    "experiments:criterion_check",
    "experiments:prediction_resolve",
    "experiments:failure_add",
    "experiments:action_item_add",
    "experiments:action_item_toggle",
    "experiments:token_create",
    "experiments:token_revoke",
    "experiments:handover_write",
}
# Pages a Member reads but only the owner or a Lead changes (POST).
OWNER_OR_LEAD_WRITES = {"experiments:postmortem_detail"}
# Only the author of the object (bob wrote the note): a Lead who did not gets 403 as well.
AUTHOR_ONLY = {"papers:note_delete"}
# Pages a user without a role may still open (they show nothing of the team's data).
OPEN_TO_EVERY_USER = {"home"}
# Django admin has its own login and staff check; tested separately below.
SKIPPED_NAMESPACES = {"admin"}
# URLs about a post-mortem point at a closed (killed) experiment; the others at an active one.
CLOSED_EXPERIMENT_URLS = {
    "experiments:postmortem_detail",
    "experiments:failure_add",
    "experiments:action_item_add",
    "experiments:action_item_toggle",
}


def _walk(patterns, namespace=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace in SKIPPED_NAMESPACES:
                continue
            inner = f"{namespace}:{pattern.namespace}" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, inner.strip(":"))
        elif isinstance(pattern, URLPattern) and pattern.name:
            name = f"{namespace}:{pattern.name}" if namespace else pattern.name
            yield (
                name,
                list(pattern.pattern.converters)
                or re.findall(r"<(?:\w+:)?(\w+)>", str(pattern.pattern)),
            )


# Pages (everything but the API, which is checked through its OpenAPI document).
PAGES = sorted({name: kwargs for name, kwargs in _walk(get_resolver().url_patterns)}.items())
PAGES = [(name, kwargs) for name, kwargs in PAGES if not name.startswith("api:")]


@pytest.fixture
def world(alice, bob, charlie):
    """One real object of every kind a URL can point at."""
    from datetime import timedelta

    from django.utils import timezone

    from experiments.models import (
        ActionItem,
        DeepDive,
        GateDecision,
        PostMortem,
        Prediction,
        RadarMoveProposal,
        SupersedeProposal,
    )
    from papers.models import Passage, QuestionLink, TriageItem, Watch

    dana = factories.make_user(username="dana", role="Member")
    technique = factories.make_technique(name="Flash Attention", ring="adopt", owner=dana)
    review = factories.make_review()
    nomination = factories.make_nomination(proposed_by=bob, review=review)
    paper = factories.make_paper(title="FlashAttention: Fast and Memory-Efficient Attention")
    factories.make_pdf(paper=paper, by=bob)  # the PDF pages serve or re-read it
    note = factories.make_note(paper=paper, author=bob)
    passage = Passage.objects.create(paper=paper, page=1, ordinal=1, text="Tiling avoids HBM.")
    other_paper = factories.make_paper(title="LoRA: Low-Rank Adaptation of Large Language Models")
    question = factories.make_question()
    link = QuestionLink.objects.create(
        question=question, paper=paper, added_by=bob, stance="supports", rationale="Cited"
    )
    experiment = factories.make_experiment(technique=technique, owner=dana)
    criterion = factories.make_criterion(experiment=experiment)
    run = factories.make_run(experiment=experiment)
    token, key = factories.make_token(experiment=experiment, created_by=dana)
    prediction = Prediction.objects.create(
        experiment=experiment, statement="Beats the baseline by 2 points",
        resolve_by=timezone.localdate() + timedelta(days=30), created_by=dana,
    )  # fmt: skip
    proposal = RadarMoveProposal.objects.create(
        experiment=experiment, ring="trial", rationale="Passed discovery"
    )
    closed = factories.make_experiment(technique=technique, owner=dana, status="killed")
    postmortem = PostMortem.objects.create(
        experiment=closed, author=dana, root_cause="Data leak", lessons="Check splits"
    )
    action_item = ActionItem.objects.create(
        postmortem=postmortem, description="Add a split check", owner=dana
    )
    # A NOT YET leaves the gate open, so the other pages see the experiment as before.
    decision = GateDecision.objects.create(
        experiment=experiment, stage="discovery", round=1, decision="not_yet",
        question="Should we invest more time in this?", conditions="Three seeds",
        decided_by=alice, snapshot={"criteria": [], "statistics": [], "flags": []},
    )  # fmt: skip
    deep_dive = DeepDive.objects.create(review=review, presenter=bob, technique=technique)
    other_experiment = factories.make_experiment(technique=technique, owner=dana)
    watch = Watch.objects.create(
        name="Speculative decoding", kind="library", query="decoding", created_by=dana
    )
    triage_item = TriageItem.objects.create(watch=watch, paper=other_paper, title=other_paper.title)
    _, other_key = factories.make_token(experiment=other_experiment, created_by=dana)
    return {
        "users": {"alice": alice, "bob": bob, "charlie": charlie, "dana": dana},
        "technique": technique, "review": review, "nomination": nomination, "paper": paper,
        "note": note, "other_paper": other_paper, "question": question, "link": link,
        "experiment": experiment,
        "criterion": criterion, "run": run, "token": token, "key": key,
        "prediction": prediction, "proposal": proposal, "closed_experiment": closed,
        "action_item": action_item, "other_key": other_key, "decision": decision,
        "deep_dive": deep_dive, "handover_kind": "runbook", "watch": watch,
        "triage_item": triage_item, "passage": passage,
        "supersede_proposal": SupersedeProposal.objects.create(
            criterion=criterion, changes={"threshold": 0.7}, reason="new eval set", proposed_by=dana
        ),
    }  # fmt: skip


# What a URL parameter names, by parameter; "pk" depends on the URL (see _pk_object).
KWARG_OBJECTS = {
    "slug": "technique",
    "nomination_pk": "nomination",
    "token_id": "token",
    "experiment_key": "experiment",
    "run_id": "run",
    "criterion_id": "criterion",
    "prediction_id": "prediction",
    "proposal_id": "proposal",
    "supersede_proposal_id": "supersede_proposal",
    "item_id": "action_item",
    "link_pk": "link",
    "passage_pk": "passage",
    "decision_id": "decision",
    "deep_dive_pk": "deep_dive",
    "kind": "handover_kind",
}


def _pk_object(name):
    if name in CLOSED_EXPERIMENT_URLS:
        return "closed_experiment"
    if name == "papers:note_delete":
        return "note"
    if name.startswith("papers:question"):
        return "question"
    if name.startswith("papers:watch"):
        return "watch"
    if name == "papers:triage_item":
        return "triage_item"
    return {"review": "review", "papers": "paper", "experiments": "experiment"}.get(
        name.split(":")[0]
    )


def url_kwargs(name, kwargs, world):
    """Values for a URL's parameters, from the world's objects."""
    values = {}
    for kwarg in kwargs:
        key = _pk_object(name) if kwarg == "pk" else KWARG_OBJECTS.get(kwarg)
        if key is None:
            pytest.fail(f"{name}: teach KWARG_OBJECTS/_pk_object which object <{kwarg}> names")
        obj = world[key]
        if kwarg == "slug":
            values[kwarg] = obj.slug
        elif kwarg == "experiment_key":
            values[kwarg] = obj.key
        elif kwarg == "kind":
            values[kwarg] = obj
        else:
            values[kwarg] = obj.pk
    return values


def _request(client, method, url):
    return client.get(url) if method == "get" else client.post(url, {})


def _expected(name, user, method, response):
    """None if the response is right for this caller, else what was expected."""
    status = response.status_code
    if status >= 500:
        return "no server error"
    if user is None:
        if name in PUBLIC:
            return None
        redirected = status == 302 and response["Location"].startswith(LOGIN)
        return None if redirected else "a redirect to the login page"
    if name in PUBLIC:
        return None
    # A GET on a POST-only action answers 405 (before any permission check): it shows nothing.
    if method == "get" and status == 405:
        return None
    refused = status in (403, 404)
    if user == "charlie" and name not in OPEN_TO_EVERY_USER:
        return None if refused else "403 or 404 (no role)"
    if user == "bob" and (
        name in LEAD_ONLY
        or name in OWNER_OR_LEAD
        or (name in OWNER_OR_LEAD_WRITES and method == "post")
    ):
        return None if refused else "403 (not a Lead, not the owner)"
    if user == "alice" and name in AUTHOR_ONLY:
        return None if refused else "403 (not the author)"
    if status in (401, 403, 404):
        return f"access (not {status})"
    return None


@pytest.mark.parametrize("name,kwargs", PAGES, ids=[name for name, _ in PAGES])
def test_page_access(client, world, name, kwargs):
    url = reverse(name, kwargs=url_kwargs(name, kwargs, world))
    wrong = []
    for username in (None, "charlie", "bob", "alice"):
        client.logout()
        if username:
            client.force_login(world["users"][username])
        for method in ("get", "post"):
            response = _request(client, method, url)
            problem = _expected(name, username, method, response)
            if problem:
                who = username or "anonymous"
                wrong.append(
                    f"{who} {method.upper()} {url}: {response.status_code}, want {problem}"
                )
    assert not wrong, "\n".join(wrong)


def test_the_matrix_sees_the_pages_of_every_app():
    names = {name for name, _ in PAGES}
    for app in ("radar", "papers", "experiments", "review"):
        assert any(name.startswith(f"{app}:") for name in names), app
    # The special tables name real URLs (a renamed URL must not silently leave the table).
    for special in (
        LEAD_ONLY
        | OWNER_OR_LEAD
        | OWNER_OR_LEAD_WRITES
        | AUTHOR_ONLY
        | OPEN_TO_EVERY_USER
        | CLOSED_EXPERIMENT_URLS
        | (PUBLIC - {"logout"})
    ):
        assert special in names, f"{special} is in a table but no longer a URL"


def test_admin_is_for_staff_only(client, world):
    for username in ("charlie", "bob", "alice"):
        client.force_login(world["users"][username])
        response = client.get("/admin/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"], username
    client.logout()
    assert client.get("/admin/").status_code == 302


# --- API: every operation of the served OpenAPI document ---


def _operations():
    from config.api import api

    schema = api.get_openapi_schema()
    return sorted(
        (method.upper(), path, tuple(next(iter(s)) for s in operation.get("security", [])))
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    )


OPERATIONS = _operations()


# A valid request for each operation, so that authorisation (not validation) is what answers.
API_REQUESTS = {
    ("GET", "/api/v1/radar/techniques"): {},
    ("GET", "/api/v1/radar/techniques/{slug}"): {},
    ("POST", "/api/v1/radar/techniques/{slug}/move"): {
        "to_ring": "hold",
        "reason": "Superseded on our hardware",
        "failed_constraint": "Needs Hopper GPUs",
    },
    ("GET", "/api/v1/papers/search"): {"q": "attention", "mode": "keyword"},
    ("GET", "/api/v1/papers/"): {},
    ("GET", "/api/v1/papers/{paper_id}"): {},
    ("POST", "/api/v1/papers/{paper_id}/notes"): {"relevance": 4, "summary": "Tiles attention"},
    ("POST", "/api/v1/experiments/{experiment_key}/runs"): {"name": "matrix-run"},
    ("GET", "/api/v1/experiments/{experiment_key}/runs/{run_id}"): {},
    ("POST", "/api/v1/experiments/{experiment_key}/runs/{run_id}/metrics"): {
        "idempotency_key": "matrix-1",
        "points": [{"key": "loss", "value": 1.5, "step": 0}],
    },
    ("POST", "/api/v1/experiments/{experiment_key}/runs/{run_id}/finish"): {"status": "finished"},
    ("POST", "/api/v1/experiments/{experiment_key}/runs/{run_id}/artifacts"): {
        "uri": "s3://bucket/model.pt"
    },
    ("GET", "/api/v1/experiments/{experiment_key}/should-stop"): {},
    ("GET", "/api/v1/experiments/{experiment_key}"): {},
    ("GET", "/api/v1/papers/questions"): {},
    ("POST", "/api/v1/papers/questions"): {"question": "Is ring attention worth it for us?"},
    ("GET", "/api/v1/papers/questions/{question_id}"): {},
    ("PATCH", "/api/v1/papers/questions/{question_id}"): {"what_would_resolve": "A 64k run"},
    ("PUT", "/api/v1/papers/questions/{question_id}/conclusion"): {
        "conclusion": "Only past 64k tokens.",
        "status": "partly_answered",
    },
    ("POST", "/api/v1/papers/questions/{question_id}/evidence"): lambda world: {
        "paper_id": world["other_paper"].pk,
        "stance": "context",
        "rationale": "The adapters we would fine-tune with",
    },
    ("DELETE", "/api/v1/papers/questions/{question_id}/evidence/{evidence_id}"): {},
    # Two runs of the experiment: the world's, and one more made for this (by name, once).
    ("GET", "/api/v1/experiments/{experiment_key}/drift"): lambda world: {
        "reference": world["run"].pk,
        "runs": world["experiment"].runs.get_or_create(name="matrix-drift")[0].pk,
    },
}

# Token endpoints that a signed-in member may read too (the pages fetch them).
API_TOKEN_OR_SESSION = {("GET", "/api/v1/experiments/{experiment_key}/drift")}


# Session-API writes only a Lead may make.
API_LEAD_ONLY = {
    ("POST", "/api/v1/radar/techniques/{slug}/move"),
    ("DELETE", "/api/v1/papers/questions/{question_id}/evidence/{evidence_id}"),
}


def _api_url(path, world):
    values = {"slug": world["technique"].slug, "experiment_key": world["experiment"].key,
              "run_id": world["run"].pk, "paper_id": world["other_paper"].pk,
              "question_id": world["question"].pk, "evidence_id": world["link"].pk}  # fmt: skip
    for parameter in re.findall(r"{(\w+)}", path):
        if parameter not in values:
            pytest.fail(f"{path}: teach _api_url() which object {{{parameter}}} names")
    return path.format(**values)


def _call(client, method, path, url, world=None, **headers):
    if (method, path) not in API_REQUESTS:
        pytest.fail(f"{method} {path}: add a valid request for it to API_REQUESTS")
    data = API_REQUESTS[(method, path)]
    if callable(data):
        data = data(world)
    if method == "GET":
        return client.get(url, data, **headers)
    send = getattr(client, method.lower())
    return send(url, data=data, content_type="application/json", **headers)


@pytest.mark.parametrize(
    "method,path,security", OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS]
)
def test_api_access(client, world, method, path, security):
    url = _api_url(path, world)
    assert security, f"{method} {path} has no authentication"

    # Anonymous: 401 with a message, never data.
    response = _call(client, method, path, url, world)
    assert response.status_code == 401, response.content
    assert response.json()["detail"]

    if "ApiTokenAuth" in security:
        # A valid token of another experiment: refused, and nothing about this one leaks.
        response = _call(
            client, method, path, url, world, HTTP_AUTHORIZATION=f"Bearer {world['other_key']}"
        )
        assert response.status_code in (403, 404), (response.status_code, response.content)
        assert response.json()["detail"]
        assert world["experiment"].title not in response.content.decode()
        if (method, path) in API_TOKEN_OR_SESSION:
            # Read by the pages too: a member's session, scoped by role.
            client.force_login(world["users"]["charlie"])
            assert _call(client, method, path, url, world).status_code == 403
            client.force_login(world["users"]["bob"])
            assert _call(client, method, path, url, world).status_code == 200
        else:
            # A logged-in Lead without a token is not a training job.
            client.force_login(world["users"]["alice"])
            assert _call(client, method, path, url, world).status_code == 401
        client.logout()
        # The experiment's own token is accepted.
        response = _call(
            client, method, path, url, world, HTTP_AUTHORIZATION=f"Bearer {world['key']}"
        )
        assert response.status_code in (200, 201), response.content
    else:
        # Session endpoints: the browser's login, scoped by role.
        client.force_login(world["users"]["charlie"])
        assert _call(client, method, path, url, world).status_code == 403
        client.force_login(world["users"]["bob"])
        bob_status = _call(client, method, path, url, world).status_code
        # Reads are for every member; writes are the Member's own notes or a Lead's decision.
        if (method, path) in API_LEAD_ONLY:
            assert bob_status == 403
        else:
            assert bob_status in (200, 201), bob_status
        client.force_login(world["users"]["alice"])
        response = _call(client, method, path, url, world)
        assert response.status_code in (200, 201, 204), response.content
        # A training token is not a login for the radar or papers.
        client.logout()
        response = _call(
            client, method, path, url, world, HTTP_AUTHORIZATION=f"Bearer {world['key']}"
        )
        assert response.status_code == 401


def test_api_schema_and_root_are_public(client):
    assert client.get("/api/v1/openapi.json").status_code == 200
