"""Hardware and precision drift: runs against a reference step by step, as a page, a JSON API
and a criterion a gate can use ("MI300X loss within 1e-3 relative of the H100 run")."""

import math

import numpy as np
import pytest
from django.urls import reverse

from experiments import drift
from experiments.models import Criterion
from tests.api import BASE, Api
from tests.factories import make_experiment, make_token, report_run

pytestmark = pytest.mark.django_db

H100 = {"accelerator_vendor": "nvidia", "accelerator_model": "H100", "precision": "bf16"}
MI300X = {"accelerator_vendor": "amd", "accelerator_model": "MI300X", "precision": "bf16"}
STEPS = 400
DIVERGES_AT = 250


def loss_curve():
    return (2 * np.exp(-np.arange(STEPS) / 100) + 0.5).tolist()


def port_experiment(*, diverges=True):
    """An H100 run and an MI300X run of seed 1, equal to 1e-6 until DIVERGES_AT, then 1% off."""
    experiment = make_experiment(key="EXP-7")
    loss = loss_curve()
    other = [value * (1 + (0.01 if diverges and step >= DIVERGES_AT else 1e-6))
             for step, value in enumerate(loss)]  # fmt: skip
    reference = report_run(experiment=experiment, seed=1, name="h100-s1", params={"lr": 1},
                           points={"loss": loss}, values={"loss": loss[-1]}, **H100)  # fmt: skip
    run = report_run(experiment=experiment, seed=1, name="mi300x-s1", params={"lr": 1},
                     points={"loss": other}, values={"loss": other[-1]}, **MI300X)  # fmt: skip
    return experiment, reference, run


def steps(values, start=0):
    return (np.arange(start, start + len(values)), np.array(values, dtype=float))


def test_compare_finds_the_first_step_beyond_tolerance_and_the_largest_difference():
    reference = steps([1.0, 2.0, 4.0, 0.0, 8.0])
    candidate = steps([1.0, 2.001, 4.2, 0.0, 8.0])
    row = drift.compare(reference, candidate, drift.Tolerance(relative=1e-3))
    assert row["first_divergent_step"] == 2 and row["divergent_steps"] == 1
    assert row["max_abs"] == {"value": pytest.approx(0.2), "step": 2}
    assert row["max_rel"]["step"] == 2 and row["within"] is False
    # The absolute tolerance is the floor near zero (math.isclose's rule).
    row = drift.compare(steps([0.0, 1.0]), steps([1e-9, 1.0]), drift.Tolerance(1e-6, 1e-3))
    assert row["within"] is True
    # Without a tolerance nothing diverges, and the differences are still measured.
    row = drift.compare(reference, candidate, drift.Tolerance())
    assert row["within"] is None and row["max_abs"]["value"] == pytest.approx(0.2)


def test_compare_aligns_by_step_and_a_nan_on_one_side_is_a_divergence():
    reference = steps([1.0, 1.0, 1.0, 1.0], start=0)
    candidate = (np.array([2, 3, 5]), np.array([1.0, math.nan, 1.0]))
    row = drift.compare(reference, candidate, drift.Tolerance(absolute=0.1))
    assert row["compared_steps"] == 2 and row["only_reference"] == 2 and row["only_run"] == 1
    assert row["first_divergent_step"] == 3
    assert None in row["chart"]["abs"]  # drawn as a gap
    both_nan = drift.compare(steps([math.nan]), steps([math.nan]), drift.Tolerance(0.1))
    assert both_nan["within"] is True


def test_compare_keeps_a_long_history_to_the_charts_width_with_the_divergence_in_it():
    rng = np.random.default_rng(1)
    values = rng.normal(1, 0.01, 200_000)
    shifted = values.copy()
    shifted[123_457] += 1
    row = drift.compare(steps(values), steps(shifted + 1e-9), drift.Tolerance(0.5), width=800)
    assert row["first_divergent_step"] == 123_457
    assert len(row["chart"]["steps"]) <= 3 * 800 and 123_457 in row["chart"]["steps"]
    last = drift.compare(steps(values), steps(shifted), drift.Tolerance(0.5), last=1000)
    assert last["compared_steps"] == 1000 and last["within"] is True


def test_tolerance_text_is_checked():
    with pytest.raises(ValueError, match="rel_tol must be a number"):
        drift.Tolerance.parse("", "lots")
    with pytest.raises(ValueError, match="abs_tol must be a finite number of 0 or more"):
        drift.Tolerance.parse("-1", "")


# --- the page and the API ---


def test_the_drift_page_proposes_the_same_setup_on_the_other_platform(alice_client):
    experiment, reference, run = port_experiment()
    url = reverse("experiments:experiment_drift", args=[experiment.pk])
    page = alice_client.get(url, {"rel_tol": "1e-3"})
    assert page.status_code == 200
    body = page.content.decode()
    assert "same params, other platform" in body
    assert f"step {DIVERGES_AT}" in body and "data-drift=" in body
    assert page.context["reference"] == reference
    within = alice_client.get(url, {"rel_tol": "0.05"}).content.decode()
    assert f"step {DIVERGES_AT}" not in within and "within" in within


def test_the_drift_page_says_what_is_wrong_with_its_parameters(alice_client, charlie):
    experiment, reference, run = port_experiment()
    url = reverse("experiments:experiment_drift", args=[experiment.pk])
    bad = alice_client.get(url, {"rel_tol": "-2"})
    assert bad.status_code == 400 and "rel_tol must be a finite number" in bad.content.decode()
    itself = alice_client.get(url, {"reference": reference.pk, "runs": reference.pk})
    assert itself.status_code == 400 and "compared with itself" in itself.content.decode()
    alice_client.force_login(charlie)
    assert alice_client.get(url).status_code == 403


def test_the_experiment_page_groups_runs_by_platform_and_links_the_drift_view(alice_client):
    experiment, reference, run = port_experiment()
    report_run(experiment=experiment, variant="baseline", seed=1, values={"loss": 0.6}, **H100)
    report_run(experiment=experiment, variant="baseline", seed=1, values={"loss": 0.7}, **MI300X)
    page = alice_client.get(experiment.get_absolute_url()).content.decode()
    assert page.count('class="platform-group"') == 2
    assert "NVIDIA H100 · bf16" in page and "AMD MI300X · bf16" in page
    assert reverse("experiments:experiment_drift", args=[experiment.pk]) in page
    together = alice_client.get(experiment.get_absolute_url())
    assert [c.platform for c in together.context["comparisons"]] == [""]
    split = alice_client.get(experiment.get_absolute_url(), {"split": "platform"})
    assert sorted(c.platform for c in split.context["comparisons"]) == [
        "AMD MI300X · bf16", "NVIDIA H100 · bf16"]  # fmt: skip
    assert "split by platform" in together.content.decode()


def test_one_platform_shows_no_groups(alice_client):
    experiment = make_experiment()
    report_run(experiment=experiment, seed=1, values={"loss": 1.0}, **H100)
    report_run(experiment=experiment, seed=2, values={"loss": 1.0}, **H100)
    page = alice_client.get(experiment.get_absolute_url()).content.decode()
    assert "platform-group" not in page and "split by platform" not in page


def test_a_seed_on_another_platform_is_not_a_rerun_of_it():
    experiment, reference, run = port_experiment()
    counted, left_out = experiment.counted_runs()
    assert set(counted) == {reference, run} and not left_out


def test_the_api_answers_the_drift_with_a_token_or_a_session(client, alice):
    experiment, reference, run = port_experiment()
    _, key = make_token(experiment=experiment, read_only=True)
    api = Api(client, key)
    query = f"?reference={reference.pk}&runs={run.pk}&rel_tol=1e-3&width=100"
    response = api.get(f"/EXP-7/drift{query}")
    assert response.status_code == 200, response.content
    row = response.json()["comparisons"][0]
    assert (row["metric"], row["run"], row["first_divergent_step"]) == ("loss", run.pk,
                                                                         DIVERGES_AT)  # fmt: skip
    assert row["compared_steps"] == STEPS and row["within"] is False
    assert response.json()["reference"]["platform"] == "NVIDIA H100 · bf16"
    client.force_login(alice)
    assert client.get(f"{BASE}/EXP-7/drift{query}").status_code == 200


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("?reference={ref}&runs=999999", 400, "no run 999999 in EXP-7"),
        ("?reference={ref}&runs={run}&metric=accuracy", 400, "accuracy: not logged"),
        ("?reference={ref}&runs={run}&rel_tol=-1", 422, "rel_tol"),
        ("?reference={ref}&runs=x", 422, "runs"),
        ("?runs={run}", 422, "reference"),
    ],
)
def test_the_api_refuses_bad_drift_questions_with_the_reason(client, query, status, message):
    experiment, reference, run = port_experiment()
    api = Api(client, make_token(experiment=experiment)[1])
    response = api.get("/EXP-7/drift" + query.format(ref=reference.pk, run=run.pk))
    assert response.status_code == status, response.content
    assert message in response.json()["detail"]


def test_another_experiments_token_may_not_read_the_drift(client):
    experiment, reference, run = port_experiment()
    api = Api(client, make_token(experiment=make_experiment(key="EXP-8"))[1])
    response = api.get(f"/EXP-7/drift?reference={reference.pk}&runs={run.pk}")
    assert response.status_code == 403


# --- the criterion ---


def reference_criterion(experiment, **fields):
    """A reference check on runs already reported: as a Lead's supersede writes one (the
    stage's criteria froze when its first run reported)."""
    fields = {"metric": "loss", "check_kind": "matches_reference", "rel_tolerance": 1e-3,
              "kind": "success", **fields}  # fmt: skip
    if fields["kind"] == "kill":
        fields.setdefault("severity", "hard")
    criterion = Criterion(experiment=experiment, **fields)
    criterion.full_clean()
    criterion.save(allow_after_data=True)
    return criterion


def test_a_reference_platform_criterion_fails_with_the_first_divergent_step():
    experiment, reference, run = port_experiment()
    criterion = reference_criterion(experiment, reference_platform="NVIDIA H100 · bf16",
                                    platform="AMD MI300X · bf16")  # fmt: skip
    assert criterion.statement == (
        "loss of candidate on AMD MI300X · bf16 within rel 0.001 of NVIDIA H100 · bf16 at "
        "every step"
    )
    experiment.evaluate()
    criterion.refresh_from_db()
    assert criterion.result == "does_not_hold"
    assert f"mi300x-s1 beyond rel 0.001 of h100-s1 from step {DIVERGES_AT}" in (
        criterion.result_detail)  # fmt: skip
    assert criterion.evidence == {"metric": "loss", "reference": reference.pk, "run": run.pk,
                                  "first_divergent_step": DIVERGES_AT}  # fmt: skip
    assert any("Success criterion not met" in b and f"step {DIVERGES_AT}" in b
               for b in experiment.gate_blockers())  # fmt: skip


def test_a_reference_run_criterion_holds_when_the_runs_match():
    experiment, reference, run = port_experiment(diverges=False)
    criterion = reference_criterion(experiment, reference_run=reference)
    experiment.evaluate()
    criterion.refresh_from_db()
    assert criterion.result == "holds" and criterion.result_label == "met"
    assert criterion.observed == pytest.approx(1e-6, rel=1e-3)


def test_the_last_n_steps_and_a_kill_on_divergence():
    experiment, reference, run = port_experiment()
    early = reference_criterion(experiment, reference_run=reference, last_steps=STEPS - 300,
                                stage="discovery")  # fmt: skip
    kill = reference_criterion(experiment, reference_run=reference, kind="kill",
                               severity="hard")  # fmt: skip
    assert kill.statement.startswith("loss of candidate diverges from run h100-s1 beyond")
    experiment.evaluate()
    early.refresh_from_db()
    kill.refresh_from_db()
    assert early.result == "does_not_hold"  # the last 100 steps are all past 250
    assert kill.result == "holds" and kill.trips_hard_kill
    assert any("Hard kill criterion tripped" in flag for flag in experiment.flags)


def test_without_a_reference_run_on_that_platform_there_is_not_enough_evidence():
    experiment, reference, run = port_experiment()
    criterion = reference_criterion(experiment, reference_platform="Google TPU v5 · bf16")
    experiment.evaluate()
    criterion.refresh_from_db()
    assert criterion.result == "insufficient"
    assert "no run on Google TPU v5 · bf16" in criterion.result_detail


def test_a_reference_criterion_needs_a_reference_and_a_tolerance():
    experiment, reference, run = port_experiment()
    with pytest.raises(Exception, match="Name the reference"):
        reference_criterion(experiment)
    with pytest.raises(Exception, match="Give an absolute or a relative tolerance"):
        reference_criterion(experiment, reference_run=reference, rel_tolerance=None)
    elsewhere = report_run(experiment=make_experiment(), values={"loss": 1.0})
    with pytest.raises(Exception, match="must be a run of this experiment"):
        reference_criterion(experiment, reference_run=elsewhere)


def test_the_criterion_form_creates_a_reference_check_and_the_page_links_its_evidence(
    alice_client,
):
    experiment = make_experiment(key="EXP-7")
    url = reverse("experiments:criterion_add", args=[experiment.pk])
    assert "Matches reference within tolerance" in alice_client.get(url).content.decode()
    fields = {"kind": "success", "metric": "loss", "check_kind": "matches_reference",
              "reference_platform": "NVIDIA H100 · bf16", "rel_tolerance": "1e-3",
              "variant": "candidate", "min_seeds": "1", "stage": "discovery"}  # fmt: skip
    refused = alice_client.post(url, {**fields, "rel_tolerance": ""})
    assert refused.status_code == 400
    assert "Give an absolute or a relative tolerance" in refused.content.decode()
    response = alice_client.post(url, fields)
    assert response.status_code == 302, response.content.decode()[:2000]
    criterion = Criterion.objects.get()
    assert criterion.is_reference_check and criterion.reference_platform == "NVIDIA H100 · bf16"
    other = [v * (1.01 if step >= DIVERGES_AT else 1) for step, v in enumerate(loss_curve())]
    report_run(experiment=experiment, name="h100-s1", seed=1, points={"loss": loss_curve()},
               values={"loss": 0.5}, **H100)  # fmt: skip
    report_run(experiment=experiment, name="mi300x-s1", seed=1, points={"loss": other},
               values={"loss": other[-1]}, **MI300X)  # fmt: skip
    experiment.evaluate()
    page = alice_client.get(experiment.get_absolute_url()).content.decode()
    assert f"diverges at step {DIVERGES_AT}" in page
    assert "NVIDIA H100 · bf16" in alice_client.get(url).content.decode()


def test_a_lead_supersedes_a_criterion_into_a_reference_run_check(alice_client):
    experiment, reference, run = port_experiment()
    old = Criterion(experiment=experiment, kind="success", metric="loss", aggregation="max",
                    comparator="lt", threshold=2.5)  # fmt: skip
    old.save(allow_after_data=True)
    url = reverse("experiments:criterion_supersede", args=[experiment.pk, old.pk])
    fields = {"kind": "success", "metric": "loss", "check_kind": "matches_reference",
              "reference_run": reference.pk, "rel_tolerance": "1e-3", "variant": "candidate",
              "min_seeds": "1", "reason": "The port must match H100 step by step"}  # fmt: skip
    response = alice_client.post(url, fields)
    assert response.status_code == 302, response.content.decode()[:3000]
    new = Criterion.objects.current().get()
    assert new.reference_run == reference and new.supersedes == old
    experiment.evaluate()
    new.refresh_from_db()
    assert new.result == "does_not_hold" and new.evidence["first_divergent_step"] == DIVERGES_AT
