import datetime
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from experiments.models import Criterion, Experiment, GateDecision
from tests.factories import (
    give_only_baseline_evidence,
    give_supporting_evidence,
    make_criterion,
    make_experiment,
    make_technique,
    make_user,
    report_run,
)

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()


def _detail(experiment):
    return reverse("experiments:experiment_detail", args=[experiment.pk])


def _decide_discovery_gate(client, experiment, decision, headers=None, **fields):
    """Post the first answer to `experiment`'s Discovery gate."""
    return client.post(
        reverse("experiments:gate_decide", args=[experiment.pk]),
        {"decision": decision, "stage": "discovery", "round": 1, **fields},
        headers=headers,
    )


def _with_evidence(experiment, *, candidate=(0.86, 0.89, 0.87), baseline=(0.80, 0.82, 0.81)):
    for seed, value in enumerate(baseline, start=1):
        report_run(experiment=experiment, variant="baseline", seed=seed, name=f"base-s{seed}",
                   values={"accuracy": value, "latency_ms": 50 + seed},
                   points={"loss": [2.0, 1.5, 1.2]})  # fmt: skip
    for seed, value in enumerate(candidate, start=1):
        report_run(experiment=experiment, seed=seed, name=f"cand-s{seed}",
                   values={"accuracy": value, "latency_ms": 40 + seed},
                   points={"loss": [2.0, 1.2, 0.9]})  # fmt: skip
    experiment.evaluate()


def test_pages_refuse_a_user_without_a_role(charlie_client):
    experiment = make_experiment()
    assert charlie_client.get(reverse("experiments:experiment_list")).status_code == 403
    assert charlie_client.get(_detail(experiment)).status_code == 403


def test_list_filters_by_status_stage_and_flag(bob_client, htmx):
    flagged = make_experiment(title="Overran")
    flagged.set_timebox("discovery", starts_on=TODAY - 30 * datetime.timedelta(days=1),
                        deadline=TODAY - datetime.timedelta(days=1))  # fmt: skip
    flagged.evaluate()
    make_experiment(title="Later stage", stage="validation")
    url = reverse("experiments:experiment_list")

    page = bob_client.get(url).content.decode()
    assert "Overran" in page and "Later stage" in page
    only_flagged = bob_client.get(url, {"flagged": "1"}).content.decode()
    assert "Overran" in only_flagged and "Later stage" not in only_flagged
    validation = bob_client.get(url, {"stage": "validation"}, headers=htmx)
    assert "Later stage" in validation.content.decode()
    assert "<html" not in validation.content.decode()  # only the results region


def test_member_creates_an_experiment_with_a_time_box(bob_client, bob):
    technique = make_technique()
    response = bob_client.post(
        reverse("experiments:experiment_create"),
        {
            "title": "LoRA r=16 for the support bot",
            "technique": technique.pk,
            "hypothesis": "LoRA matches full fine-tuning within 1% accuracy at 10% of the cost.",
            "portfolio_bucket": "core",
            "engineer_weeks": "3",
            "engineer_week_cost": "4000",
            "compute_cost": "3000",
            "expected_benefit_per_month": "5000",
            "stage_starts_on": "2026-01-05",
            "stage_deadline": "2026-01-19",
        },
    )
    experiment = Experiment.objects.get(title="LoRA r=16 for the support bot")
    assert response.status_code == 302 and response["Location"] == _detail(experiment)
    assert experiment.owner == bob and experiment.key.startswith("EXP-")
    assert experiment.timebox().deadline == datetime.date(2026, 1, 19)
    page = bob_client.get(_detail(experiment)).content.decode()
    assert "3.0 months" in page  # payback: 15,000 / 5,000 per month
    assert "300%" in page  # 12-month ROI: (60,000 - 15,000) / 15,000


def test_bad_experiment_form_names_the_field(bob_client):
    response = bob_client.post(
        reverse("experiments:experiment_create"),
        {"title": "x", "key": "twelve", "stage_starts_on": "2026-02-01",
         "stage_deadline": "2026-01-01"},
    )  # fmt: skip
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert "EXP-&lt;number&gt;" in response.content.decode() or "key" in errors
    assert "stage_deadline" in errors and "hypothesis" in errors


def test_owner_edits_their_experiment_and_the_edit_is_in_the_history(bob_client, bob):
    experiment = make_experiment(owner=bob, hypothesis="old")
    experiment.set_timebox("discovery", starts_on=TODAY, deadline=TODAY)
    url = reverse("experiments:experiment_edit", args=[experiment.pk])
    form = bob_client.get(url).context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    data.update(
        hypothesis="LoRA within 1% at 10% of the cost",
        stage_starts_on=TODAY,
        stage_deadline=TODAY + datetime.timedelta(days=21),
        technique=experiment.technique.pk,
    )
    refused = bob_client.post(url, data)
    assert refused.status_code == 400 and "Say why the hypothesis" in refused.content.decode()
    experiment.refresh_from_db()
    assert experiment.hypothesis == "old"
    data["change_reason"] = "The cost is what the team asked about"
    assert bob_client.post(url, data).status_code == 302
    experiment.refresh_from_db()
    assert experiment.hypothesis == "LoRA within 1% at 10% of the cost"
    assert experiment.timebox().deadline == TODAY + datetime.timedelta(days=21)
    history = bob_client.get(_detail(experiment)).content.decode()
    assert "Hypothesis: “old” → “LoRA within 1% at 10% of the cost”: The cost is what" in history
    deadline = TODAY + datetime.timedelta(days=21)
    assert f"Discovery time-box {TODAY:%Y-%m-%d} – {TODAY:%Y-%m-%d} → " in history
    assert f"{TODAY:%Y-%m-%d} – {deadline:%Y-%m-%d}: The cost is what" in history


def test_member_cannot_edit_someone_elses_experiment(bob_client, alice):
    experiment = make_experiment(owner=alice)
    url = reverse("experiments:experiment_edit", args=[experiment.pk])
    assert bob_client.get(url).status_code == 403


def test_experiment_page_shows_criteria_statistics_curves_and_scatter(bob_client):
    experiment = make_experiment()
    make_criterion(experiment=experiment, threshold=0.85, min_seeds=3)
    _with_evidence(experiment)
    page = bob_client.get(_detail(experiment)).content.decode()
    assert "mean accuracy of candidate ≥ 0.85" in page and ">met<" in page
    assert "Baseline versus candidate" in page and "significant at p &lt; 0.05" in page
    assert "paired t-test" in page
    # The curves come from their JSON endpoint, one per run; the scatter's points are inline.
    curves_url = reverse("experiments:experiment_curves", args=[experiment.pk])
    assert f'data-curves-url="{curves_url}" data-metric="loss"' in page
    curves = bob_client.get(curves_url, {"metric": "loss", "width": 400}).json()
    assert len(curves["runs"]) == 6 and {b["variant"] for b in curves["bands"]} == {
        "baseline",
        "candidate",
    }
    assert "data-scatter=" in page and "Pareto front" in page


def test_statistics_say_there_is_nothing_to_compare_when_only_the_baseline_counts(bob_client):
    # A killed candidate does not count: the card must not claim no metric was reported.
    experiment = make_experiment()
    give_only_baseline_evidence(experiment)
    page = bob_client.get(_detail(experiment)).content.decode()
    assert "Baseline versus candidate" in page
    assert "No metrics reported yet" not in page
    assert "no metric has counted (finished) runs of both baseline and another variant" in page


def test_evidence_region_of_an_active_experiment_polls_before_any_run_reports(bob_client, htmx):
    experiment = make_experiment()
    page = bob_client.get(_detail(experiment)).content.decode()
    assert 'hx-trigger="every 5s"' in page
    assert "waiting for runs" in page

    report_run(experiment=experiment, points={"loss": [1.0, 0.9]})
    url = reverse("experiments:experiment_evidence", args=[experiment.pk])
    polled = bob_client.get(url, headers=htmx).content.decode()
    assert "live" in polled and "<html" not in polled


def _page_before_evidence(client):
    """(experiment, its page, the criteria state the page shows, the evidence poll's URL) for
    an experiment with one criterion and no runs yet."""
    experiment = make_experiment()
    make_criterion(experiment=experiment, threshold=0.85, min_seeds=3)
    page = client.get(_detail(experiment)).content.decode()
    shown = re.search(r'criteria_shown=(\w+)"', page).group(1)
    return experiment, page, shown, reverse("experiments:experiment_evidence", args=[experiment.pk])


def test_polling_brings_the_criteria_card_along_only_when_results_changed(bob_client, htmx):
    experiment, page, shown, url = _page_before_evidence(bob_client)
    assert ">pending<" in page

    unchanged = bob_client.get(url, {"criteria_shown": shown}, headers=htmx).content.decode()
    assert 'id="criteria"' not in unchanged

    _with_evidence(experiment)
    polled = bob_client.get(url, {"criteria_shown": shown}, headers=htmx).content.decode()
    assert 'id="criteria" hx-swap-oob="true"' in polled and ">met<" in polled
    # The next poll carries the new state, and the page's own parameters, once each.
    next_url = re.search(r'hx-get="([^"]+)"', polled).group(1).replace("&amp;", "&")
    assert next_url.count("criteria_shown=") == 1 and shown not in next_url
    assert 'id="criteria"' not in bob_client.get(next_url, headers=htmx).content.decode()


def test_polling_updates_why_yes_is_refused_but_not_the_gate_form(alice_client, htmx):
    experiment, page, shown, url = _page_before_evidence(alice_client)
    assert "YES is refused on this evidence" in page

    _with_evidence(experiment)
    polled = alice_client.get(url, {"criteria_shown": shown}, headers=htmx).content.decode()
    assert 'id="gate-blockers" hx-swap-oob="true"' in polled
    assert 'id="gate-flags" hx-swap-oob="true"' in polled
    assert "YES is refused on this evidence" not in polled
    assert 'name="conditions"' not in polled  # what a Lead is typing stays as typed
    # A fresh page says the same as the swapped parts.
    fresh = alice_client.get(_detail(experiment)).content.decode()
    assert "YES is refused on this evidence" not in fresh


def test_evidence_region_stops_polling_once_the_experiment_is_closed(bob_client, htmx):
    experiment = make_experiment()
    run = report_run(experiment=experiment, points={"loss": [1.0, 0.9]})
    url = reverse("experiments:experiment_evidence", args=[experiment.pk])
    assert bob_client.get(url, headers=htmx).status_code == 200

    run.finish(summary={"loss": 0.9})
    still_active = bob_client.get(url, headers=htmx)
    assert still_active.status_code == 200  # an active experiment waits for more runs
    assert "finished" in still_active.content.decode()

    Experiment.objects.filter(pk=experiment.pk).update(status="killed")
    last = bob_client.get(url, headers=htmx)
    assert last.status_code == 286  # htmx: swap this one and stop polling
    assert 'hx-trigger="every 5s"' not in last.content.decode()


def test_lead_decides_a_gate_in_place_with_htmx(alice_client, htmx):
    experiment = make_experiment()
    give_supporting_evidence(experiment)
    response = _decide_discovery_gate(alice_client, experiment, "yes", notes="works", headers=htmx)
    assert response.status_code == 200
    body = response.content.decode()
    assert "<html" not in body and 'id="gate"' in body
    assert "Gate: Validation" in body and "Should we build this for production?" in body
    experiment.refresh_from_db()
    assert experiment.stage == "validation"


def test_lead_decides_a_gate_with_a_plain_post(alice_client):
    experiment = make_experiment()
    response = _decide_discovery_gate(
        alice_client, experiment, "no", learnings="no gain on our data"
    )
    assert response.status_code == 302 and response["Location"] == _detail(experiment)
    page = alice_client.get(_detail(experiment)).content.decode()
    assert "no gain on our data" in page and "Killed" in page


def test_member_sees_the_gate_but_cannot_decide(bob_client, htmx):
    experiment = make_experiment()
    page = bob_client.get(_detail(experiment)).content.decode()
    assert "Should we invest more time in this?" in page
    assert "Only a Lead decides gates" in page
    assert 'value="yes" disabled' in page
    url = reverse("experiments:gate_decide", args=[experiment.pk])
    for headers in ({}, htmx):
        response = bob_client.post(url, {"decision": "yes", "stage": "discovery", "round": 1},
                                   headers=headers)  # fmt: skip
        assert response.status_code == 403
    assert not GateDecision.objects.exists()
    experiment.refresh_from_db()
    assert experiment.stage == "discovery"


def test_not_yet_without_conditions_is_refused_with_the_reason(alice_client, htmx):
    experiment = make_experiment()
    url = reverse("experiments:gate_decide", args=[experiment.pk])
    data = {"decision": "not_yet", "stage": "discovery", "round": 1}
    plain = alice_client.post(url, data)
    assert plain.status_code == 400
    assert "NOT YET needs the conditions" in plain.content.decode()
    in_place = alice_client.post(url, data, headers=htmx)
    assert in_place.status_code == 200
    assert "NOT YET needs the conditions" in in_place.content.decode()
    assert not GateDecision.objects.exists()


def test_second_decider_on_the_same_gate_gets_a_clear_message(alice_client, alice):
    experiment = make_experiment()
    url = reverse("experiments:gate_decide", args=[experiment.pk])
    # Both looked at round 1 of the Discovery gate; the first decision wins.
    first = {"decision": "not_yet", "stage": "discovery", "round": 1, "conditions": "3 seeds"}
    assert alice_client.post(url, first).status_code == 302
    second = alice_client.post(url, {"decision": "yes", "stage": "discovery", "round": 1})
    assert second.status_code == 409
    assert "Someone decided this gate while you were looking at it" in second.content.decode()
    assert GateDecision.objects.count() == 1


def test_criteria_are_frozen_on_the_page_once_runs_report(bob_client, bob):
    experiment = make_experiment(owner=bob)
    add_url = reverse("experiments:criterion_add", args=[experiment.pk])
    fields = {"kind": "kill", "severity": "hard", "metric": "accuracy", "aggregation": "mean",
              "comparator": "lt", "threshold": "-5", "relative_to_baseline": "on",
              "variant": "candidate", "min_seeds": "3"}  # fmt: skip
    assert bob_client.post(add_url, fields).status_code == 302
    criterion = Criterion.objects.get()
    assert "changes by &lt; -5%" in bob_client.get(_detail(experiment)).content.decode()

    report_run(experiment=experiment, values={"accuracy": 0.8})
    refused = bob_client.post(add_url, {**fields, "threshold": "-10"})
    assert refused.status_code == 400
    assert "Discovery criteria are frozen" in refused.content.decode()
    assert Criterion.objects.count() == 1

    supersede_url = reverse("experiments:criterion_supersede", args=[experiment.pk, criterion.pk])
    assert bob_client.post(supersede_url, {**fields, "threshold": "-3"}).status_code == 400
    response = bob_client.post(
        supersede_url, {**fields, "threshold": "-3", "reason": "-5% hides regressions on code"}
    )
    assert response.status_code == 302
    # bob owns the experiment but is a Member: the change waits for a Lead.
    page = bob_client.get(_detail(experiment)).content.decode()
    assert "Proposed changes" in page and "Waiting for a Lead to approve it" in page
    assert Criterion.objects.current().get() == criterion
    proposal = criterion.supersede_proposals.get()
    decide = reverse("experiments:supersede_proposal_decide", args=[experiment.pk, proposal.pk])
    assert bob_client.post(decide, {"action": "approve"}).status_code == 403
    lead = Client()
    lead.force_login(make_user(username="lena", role="Lead"))
    assert lead.post(decide, {"action": "approve"}).status_code == 302
    page = bob_client.get(_detail(experiment)).content.decode()
    assert "Superseded" in page and "-5% hides regressions on code" in page
    assert "changes by &lt; -3%" in page and "(proposed by bob)" in page


def test_qualitative_criterion_checked_with_and_without_htmx(bob_client, bob, htmx):
    experiment = make_experiment(owner=bob)
    criterion = make_criterion(
        experiment=experiment, metric="", statement="Works with our tokenizer"
    )
    url = reverse("experiments:criterion_check", args=[experiment.pk, criterion.pk])
    response = bob_client.post(url, {"holds": "no", "note": "breaks on emoji"}, headers=htmx)
    assert response.status_code == 200 and 'id="criteria"' in response.content.decode()
    assert "not met" in response.content.decode()
    assert bob_client.post(url, {"holds": "yes"}).status_code == 302
    criterion.refresh_from_db()
    assert criterion.result_label == "met" and criterion.checked_by == bob


def _integration_passed(lead_client):
    """An experiment in Trial whose Integration gate the Lead passed, and the radar move (to
    Adopt) that this proposes."""
    experiment = make_experiment(technique=make_technique(ring="trial"), stage="integration")
    give_supporting_evidence(experiment)
    lead_client.post(reverse("experiments:gate_decide", args=[experiment.pk]),
                     {"decision": "yes", "stage": "integration", "round": 1})  # fmt: skip
    return experiment, experiment.radar_proposals.get()


def test_integration_pass_shows_the_proposal_a_lead_confirms(alice, bob_client, htmx):
    alice_client = Client()
    alice_client.force_login(alice)
    experiment, proposal = _integration_passed(alice_client)
    assert "Waiting for a Lead" in bob_client.get(_detail(experiment)).content.decode()
    url = reverse("experiments:proposal_decide", args=[experiment.pk, proposal.pk])
    assert bob_client.post(url, {"action": "confirm", "reason": "go"}).status_code == 403
    response = alice_client.post(url, {"action": "confirm", "reason": "A/B positive"}, headers=htmx)
    assert response.status_code == 200 and "Confirmed" in response.content.decode()
    experiment.technique.refresh_from_db()
    assert experiment.technique.ring == "adopt"


def test_flagged_experiments_on_dashboard_and_technique_page(bob_client):
    technique = make_technique(name="FP8 training")
    experiment = make_experiment(technique=technique, title="FP8 on the 7B")
    make_criterion(experiment=experiment, kind="kill", severity="hard", comparator="lt")
    report_run(experiment=experiment, values={"accuracy": 0.3})
    experiment.evaluate()
    panel = bob_client.get(reverse("experiments:home_panel")).content.decode()
    assert "FP8 on the 7B" in panel and "Hard kill criterion tripped" in panel
    technique_page = bob_client.get(reverse("radar:technique_detail", args=[technique.slug]))
    assert "FP8 on the 7B" in technique_page.content.decode()
    assert "Hard kill criterion tripped" in technique_page.content.decode()


def test_history_lists_gate_criterion_and_status_changes(alice_client, alice):
    experiment = make_experiment()
    criterion = make_criterion(experiment=experiment)
    report_run(experiment=experiment, values={"accuracy": 0.9})
    criterion.supersede(by=alice, reason="new eval set", threshold=0.7)
    experiment.decide_gate("no", by=alice, learnings="not worth it")
    page = alice_client.get(_detail(experiment)).content.decode()
    for text in ("superseded by", "Discovery gate: No", "Status Active → Killed"):
        assert text in page


def _region(body, region_id):
    """The opening tag and content of the element with `region_id`, up to the next region."""
    start = body.index(f'id="{region_id}"')
    following = body.find(' id="', start + 1)
    return body[body.rindex("<", 0, start) : following if following != -1 else len(body)]


def test_htmx_gate_decision_also_updates_the_header_and_history(alice_client, htmx):
    experiment = make_experiment()
    response = _decide_discovery_gate(
        alice_client, experiment, "no", learnings="no gain on our data", headers=htmx
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert body.lstrip().startswith('<section class="card" id="gate">')
    header = _region(body, "experiment-header")
    assert 'hx-swap-oob="true"' in header
    assert "Killed" in header and "Post-mortem" in header
    history = _region(body, "history")
    assert 'hx-swap-oob="true"' in history
    assert "Discovery gate: No — no gain on our data" in history
    assert "Status Active → Killed" in history

    # The whole page carries the same regions, swapped in place rather than out of band.
    page = alice_client.get(_detail(experiment)).content.decode()
    assert 'id="experiment-header"' in page and 'id="history"' in page
    assert "hx-swap-oob" not in page


def test_htmx_yes_shows_the_new_stage_in_the_header(alice_client, htmx):
    experiment = make_experiment()
    give_supporting_evidence(experiment)
    response = _decide_discovery_gate(alice_client, experiment, "yes", headers=htmx)
    header = _region(response.content.decode(), "experiment-header")
    assert "Validation" in header and "Discovery" not in header


def test_htmx_refused_decision_swaps_only_the_gate(alice_client, htmx):
    experiment = make_experiment()
    response = _decide_discovery_gate(alice_client, experiment, "not_yet", headers=htmx)
    body = response.content.decode()
    assert "NOT YET needs the conditions" in body
    assert "hx-swap-oob" not in body


def test_htmx_proposal_decision_updates_the_history(alice_client, htmx):
    experiment, proposal = _integration_passed(alice_client)
    url = reverse("experiments:proposal_decide", args=[experiment.pk, proposal.pk])
    response = alice_client.post(
        url, {"action": "dismiss", "reason": "Not yet in prod"}, headers=htmx
    )
    history = _region(response.content.decode(), "history")
    assert 'hx-swap-oob="true"' in history and "dismissed: Not yet in prod" in history


def test_experiment_page_lists_the_papers_linked_to_it(bob_client):
    from tests.factories import make_paper

    experiment = make_experiment()
    linked = make_paper(title="Wide Residual Networks", year=2016)
    make_paper(title="Unrelated Paper")
    linked.experiments.add(experiment)
    page = bob_client.get(_detail(experiment)).content.decode()
    assert f'href="{linked.get_absolute_url()}">Wide Residual Networks</a>' in page
    assert "Unrelated Paper" not in page


def test_run_summaries_read_at_six_significant_digits(bob_client):
    experiment = make_experiment()
    run = report_run(experiment=experiment, points={"loss": [1.0, 0.9]})
    run.finish(summary={"loss": 0.8198496977065316, "accuracy": float("nan"), "note": "ok"})
    html = bob_client.get(experiment.get_absolute_url()).content.decode()
    assert "loss=0.81985" in html and "0.8198496977" not in html
    assert "accuracy=nan" in html and "note=ok" in html
