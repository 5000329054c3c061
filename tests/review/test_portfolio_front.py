"""Quality versus cost across the portfolio (issue 11 §3): one point per experiment's variant,
the mean over its seeds, and the Pareto front across every experiment."""

import html
import json
import re

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from experiments.models import Experiment, RunCarryOver
from review.portfolio import quality_cost_front
from tests.factories import make_experiment, make_run

pytestmark = pytest.mark.django_db
URL = reverse("review:portfolio_front")


def _variant(experiment, variant, *seeds, **extra):
    """Finished runs of `variant`, one per seed: each (quality, cost) as accuracy, gpu_hours."""
    for seed, (accuracy, gpu_hours) in enumerate(seeds, start=1):
        run = make_run(experiment=experiment, variant=variant, seed=seed, name=f"{variant}-s{seed}")
        summary = {"accuracy": accuracy, **extra}
        if gpu_hours is not None:
            summary["gpu_hours"] = gpu_hours
        run.finish(summary=summary)


def _front(result):
    return [(point.experiment.key, point.variant) for point in result["front"]]


def _chart(page):
    """The JSON the page hands to static/experiments/charts.js."""
    match = re.search(r'data-scatter="([^"]*)"', page)
    return json.loads(html.unescape(match.group(1)))


def test_front_across_experiments_leaves_out_dominated_variants():
    cheap = make_experiment(key="EXP-A")
    _variant(cheap, "baseline", (0.70, 10), (0.72, 12))  # mean 0.71 at 11
    _variant(cheap, "candidate", (0.69, 15), (0.69, 17))  # 0.69 at 16: dominated by baseline
    strong = make_experiment(key="EXP-B")
    _variant(strong, "baseline", (0.80, 40), (0.82, 44), (0.84, 42))  # 0.82 at 42
    _variant(strong, "candidate", (0.70, 50), (0.70, 50))  # dominated by EXP-A's baseline
    result = quality_cost_front(quality="accuracy", cost="gpu_hours")
    # Best quality first; each point is the mean over seeds, with the seed count.
    assert _front(result) == [("EXP-B", "baseline"), ("EXP-A", "baseline")]
    best = result["front"][0]
    assert (best.quality, best.cost, best.seeds) == (pytest.approx(0.82), pytest.approx(42), 3)
    dominated = {(p.experiment.key, p.variant) for p in result["points"] if not p.on_front}
    assert dominated == {("EXP-A", "candidate"), ("EXP-B", "candidate")}


def test_equal_points_are_both_on_the_front():
    for key in ("EXP-A", "EXP-B"):
        _variant(make_experiment(key=key), "candidate", (0.75, 20))
    _variant(Experiment.objects.get(key="EXP-B"), "baseline", (0.75, 21))  # worse cost only
    result = quality_cost_front(quality="accuracy", cost="gpu_hours")
    assert _front(result) == [("EXP-A", "candidate"), ("EXP-B", "candidate")]


def test_lower_is_better_quality_turns_the_front_around():
    first, second = make_experiment(key="EXP-A"), make_experiment(key="EXP-B")
    _variant(first, "baseline", (0.10, 30), error_rate=0.10)
    _variant(second, "candidate", (0.20, 30), error_rate=0.20)
    higher = quality_cost_front(quality="error_rate", cost="gpu_hours")
    lower = quality_cost_front(quality="error_rate", cost="gpu_hours", higher_is_better=False)
    assert _front(higher) == [("EXP-B", "candidate")]
    assert _front(lower) == [("EXP-A", "baseline")]


def test_only_metrics_of_two_experiments_are_offered():
    _variant(make_experiment(key="EXP-A"), "baseline", (0.7, 10), bleu=30.0)
    _variant(make_experiment(key="EXP-B"), "baseline", (0.8, 20))
    result = quality_cost_front()
    assert result["metrics"] == ["accuracy", "gpu_hours"]  # bleu: EXP-A only
    assert (result["quality"], result["cost"]) == ("accuracy", "gpu_hours")


def test_runs_of_the_latest_stage_with_finished_runs_count():
    moved = make_experiment(key="EXP-A")
    _variant(moved, "candidate", (0.60, 10))
    Experiment.objects.filter(pk=moved.pk).update(stage="validation")
    moved.refresh_from_db()
    # Just past its gate: still shown by its discovery runs.
    _variant(make_experiment(key="EXP-B"), "candidate", (0.5, 5))
    assert [p.quality for p in quality_cost_front()["points"] if p.experiment == moved] == [0.60]
    # Once validation runs finish they replace them, with a discovery run carried over.
    make_run(experiment=moved, variant="candidate", seed=9).finish(
        summary={"accuracy": 0.9, "gpu_hours": 30}
    )
    carried = moved.runs.get(stage="discovery")
    RunCarryOver.objects.create(run=carried, stage="validation", reason="same setup")
    make_run(experiment=moved, variant="candidate", seed=3)  # running: not counted
    point = next(p for p in quality_cost_front()["points"] if p.experiment == moved)
    assert (point.quality, point.seeds) == (pytest.approx(0.75), 2)


def test_page_shows_the_front_and_says_which_experiments_are_left_out(alice_client):
    _variant(make_experiment(key="EXP-A", title="Cheap adapter"), "baseline", (0.7, 10))
    _variant(make_experiment(key="EXP-B"), "baseline", (0.9, 90), (0.8, 80))
    _variant(make_experiment(key="EXP-C"), "baseline", (0.6, 20))  # dominated by EXP-A
    _variant(make_experiment(key="EXP-D", title="No cost logged"), "baseline", (0.95, None))
    make_experiment(key="EXP-E", title="Nothing run yet")
    response = alice_client.get(URL, {"quality": "accuracy", "cost": "gpu_hours"})
    assert response.status_code == 200
    page = response.content.decode()
    front = page.split('id="pareto-front"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><td class=\"wrap\"><a href=\"(/experiments/\d+/)\">(EXP-\w)</a>", front)
    assert [key for _, key in rows] == ["EXP-B", "EXP-A"]
    assert rows[0][0] == Experiment.objects.get(key="EXP-B").get_absolute_url()
    assert "<td>0.85</td><td>85</td><td>2</td>" in front  # EXP-B: means over 2 seeds
    assert "EXP-C" not in front
    left_out = page.split('id="left-out"')[1].split("</ul>")[0]
    assert "EXP-D</a> No cost logged: no gpu_hours reported" in left_out
    assert "EXP-E</a> Nothing run yet: no finished runs" in left_out
    assert "EXP-A" not in left_out and "EXP-C" not in left_out


def test_chart_gets_one_point_per_variant_with_front_and_direction(alice_client):
    _variant(make_experiment(key="EXP-A"), "baseline", (0.7, 10), (0.7, 10))
    _variant(make_experiment(key="EXP-B"), "candidate", (0.6, 20))
    page = alice_client.get(URL, {"better": "higher"}).content.decode()
    chart = _chart(page)
    assert chart["x_label"] == "gpu_hours" and chart["y_label"] == "accuracy"
    assert chart["y_better"] == "higher" and chart["dim_dominated"] is True
    assert [group["name"] for group in chart["groups"]] == ["EXP-A", "EXP-B"]
    assert [(p["label"], p["x"], p["y"], p["front"]) for p in chart["points"]] == [
        ("EXP-A · baseline (2 seeds)", 10, 0.7, True),
        ("EXP-B · candidate (1 seed)", 20, 0.6, False),
    ]
    lower = _chart(alice_client.get(URL, {"better": "lower"}).content.decode())
    assert lower["y_better"] == "lower"
    assert [p["front"] for p in lower["points"]] == [True, True]


def test_page_without_shared_metrics_says_what_it_needs(alice_client):
    _variant(make_experiment(key="EXP-A"), "baseline", (0.7, 10))
    page = alice_client.get(URL).content.decode()
    assert "Needs two metrics that finished runs of at least two experiments report." in page
    assert "data-scatter" not in page


def test_page_needs_a_role(client, charlie_client):
    assert charlie_client.get(URL).status_code == 403
    client.logout()
    assert client.get(URL).status_code == 302


def test_the_page_is_linked_from_the_portfolio_nav_and_dashboard(alice_client):
    portfolio = alice_client.get(reverse("review:portfolio")).content.decode()
    home = alice_client.get(reverse("home")).content.decode()
    assert f'href="{URL}"' in portfolio and f'href="{URL}"' in home
    assert f'href="{reverse("review:portfolio")}">Portfolio</a>' in home  # the nav


def test_the_page_costs_the_same_queries_for_more_experiments(
    alice_client, django_assert_max_num_queries
):
    def add(count, start):
        for number in range(start, start + count):
            experiment = make_experiment(key=f"EXP-{number}")
            _variant(experiment, "baseline", (0.7, 10 + number), (0.71, 11 + number))
            _variant(experiment, "candidate", (0.72, 12 + number))
            make_run(experiment=experiment, variant="candidate", seed=7)  # running

    add(2, 1)
    with CaptureQueriesContext(connection) as two:
        page = alice_client.get(URL).content.decode()
    assert page.count("dominated</td>") + page.count("<td>yes</td>") == 4
    add(6, 3)
    with CaptureQueriesContext(connection) as eight:
        page = alice_client.get(URL).content.decode()
    assert page.count("dominated</td>") + page.count("<td>yes</td>") == 16
    assert len(eight) == len(two), [query["sql"] for query in eight]
    # Experiments, runs, carry-overs, metric summaries.
    with django_assert_max_num_queries(4):
        quality_cost_front()


def test_the_demo_makes_a_front_across_several_experiments(client, django_user_model):
    call_command("load_demo")
    client.force_login(django_user_model.objects.get(username="alice"))
    page = client.get(URL).content.decode()
    chart = _chart(page)
    assert (chart["y_label"], chart["x_label"]) == ("accuracy", "latency_ms")
    assert {point["group"] for point in chart["points"]} == {"EXP-1", "EXP-2", "EXP-3", "EXP-4"}
    front = {point["group"] for point in chart["points"] if point["front"]}
    assert len(front) >= 3 and not all(point["front"] for point in chart["points"])
