"""Every experiments view that answers htmx, asked with and without HX-Request."""

import pytest
from django.urls import reverse

from experiments.models import GateDecision
from tests.factories import (
    give_supporting_evidence,
    make_criterion,
    make_experiment,
    make_technique,
    make_token,
)
from tests.htmx_views import HtmxView, home_panel_view, htmx_view_tests

pytestmark = pytest.mark.django_db

GATE = '<section class="card" id="gate">'
TOKENS = '<section class="card" id="tokens">'


def _evidence(user):
    return "get", reverse("experiments:experiment_evidence", args=[make_experiment().pk]), {}


def _criterion_check(user):
    experiment = make_experiment()
    criterion = make_criterion(
        experiment=experiment, metric="", statement="Works with our tokenizer"
    )
    url = reverse("experiments:criterion_check", args=[experiment.pk, criterion.pk])
    return "post", url, {"holds": "yes"}


def _gate_decide(user):
    url = reverse("experiments:gate_decide", args=[make_experiment().pk])
    return (
        "post",
        url,
        {"decision": "not_yet", "stage": "discovery", "round": 1, "conditions": "More seeds"},
    )


def _proposal_decide(user):
    experiment = make_experiment(technique=make_technique(ring="trial"), stage="integration")
    give_supporting_evidence(experiment)
    experiment.decide_gate("yes", by=user, stage="integration", round=1)
    proposal = experiment.radar_proposals.get()
    url = reverse("experiments:proposal_decide", args=[experiment.pk, proposal.pk])
    return "post", url, {"action": "dismiss", "reason": "Not yet in production"}


def _handover_write(user):
    experiment = make_experiment(stage="integration", status="passed")
    GateDecision.objects.create(
        experiment=experiment, stage="integration", round=1, decision="yes",
        question="Should we keep this in production?", decided_by=user,
        snapshot={"criteria": [], "statistics": [], "flags": []},
    )  # fmt: skip
    url = reverse("experiments:handover_write", args=[experiment.pk, "runbook"])
    return "post", url, {"runbook-body": "Rollback: flip the flag."}


def _token_list(user):
    return "get", reverse("experiments:token_list", args=[make_experiment().pk]), {}


def _token_create(user):
    url = reverse("experiments:token_create", args=[make_experiment().pk])
    return "post", url, {"name": "ci"}


def _token_revoke(user):
    token, _ = make_token(experiment=make_experiment())
    url = reverse("experiments:token_revoke", args=[token.experiment.pk, token.pk])
    return "post", url, {}


VIEWS = {
    "experiments:experiment_list": HtmxView(
        request=lambda user: ("get", reverse("experiments:experiment_list"), {}),
        region='<section class="card" id="results">',
    ),
    "experiments:experiment_evidence": HtmxView(
        request=_evidence, region='<section id="evidence"', plain="fragment"
    ),
    "experiments:criterion_check": HtmxView(
        request=_criterion_check, region='<section class="card" id="criteria"', plain="redirect"
    ),
    "experiments:gate_decide": HtmxView(request=_gate_decide, region=GATE, plain="redirect"),
    "experiments:proposal_decide": HtmxView(
        request=_proposal_decide, region=GATE, plain="redirect"
    ),
    "experiments:handover_write": HtmxView(
        request=_handover_write,
        region='<section class="card" id="knowledge-transfer">',
        plain="redirect",
    ),
    "experiments:token_list": HtmxView(request=_token_list, region=TOKENS),
    # Rendered, not redirected, both ways: the new key is shown once and never stored.
    "experiments:token_create": HtmxView(
        request=_token_create, region=TOKENS, plain_status=201, htmx_status=201
    ),
    "experiments:token_revoke": HtmxView(request=_token_revoke, region=TOKENS, plain="redirect"),
    "experiments:home_panel": home_panel_view("experiments", "Experiments"),
}


test_the_table_lists_every_view_that_answers_htmx, test_each_view_answers_plain_and_htmx = (
    htmx_view_tests("experiments", VIEWS)
)
