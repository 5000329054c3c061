"""experiments.stats checked against published examples and independent computations.

The independent side uses numpy and the textbook formulas (math, not scipy) so that a wrong
scipy call in stats.py cannot agree with itself.
"""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from experiments import charts, stats

# Wikipedia, "Welch's t-test", example 1: t = -2.46, df = 24.99, p = 0.021.
WELCH_A1 = [
    27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4,
]  # fmt: skip
WELCH_A2 = [
    27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4,
]  # fmt: skip


def test_welch_matches_the_published_example():
    result = stats.compare("score", baseline=WELCH_A2, candidate=WELCH_A1)
    assert result.welch.statistic == pytest.approx(-2.46, abs=0.005)
    assert result.welch.p_value == pytest.approx(0.021, abs=0.0005)
    assert result.paired is None  # no seeds given: nothing to pair
    assert result.significant is True
    assert "lower" in result.verdict and "Welch" in result.verdict


def test_welch_matches_the_welch_satterthwaite_formula():
    baseline, candidate = [0.81, 0.79, 0.80, 0.83], [0.84, 0.86, 0.83]
    var_b, var_c = np.var(baseline, ddof=1) / 4, np.var(candidate, ddof=1) / 3
    t = (np.mean(candidate) - np.mean(baseline)) / math.sqrt(var_b + var_c)
    dof = (var_b + var_c) ** 2 / (var_b**2 / 3 + var_c**2 / 2)
    result = stats.compare("accuracy", baseline, candidate)
    assert result.welch.statistic == pytest.approx(t)
    assert result.welch.p_value == pytest.approx(2 * scipy_stats.t.sf(abs(t), dof))


def test_summary_is_mean_std_and_t_interval():
    values = [10.0, 12.0, 11.0, 13.0, 9.0]
    summary = stats.summarise(values)
    mean, std = 11.0, math.sqrt(2.5)
    half_width = 2.7764451051977987 * std / math.sqrt(5)  # t(0.975, 4) from tables
    assert (summary.n, summary.mean, summary.std) == (5, mean, pytest.approx(std))
    assert summary.ci_low == pytest.approx(mean - half_width)
    assert summary.ci_high == pytest.approx(mean + half_width)


def test_summary_of_one_value_has_no_spread_or_interval():
    summary = stats.summarise([3.0, float("nan")])
    assert (summary.n, summary.mean, summary.std, summary.ci_low) == (1, 3.0, None, None)


def test_paired_test_when_seeds_match():
    baseline = [0.70, 0.72, 0.69, 0.71]
    candidate = [0.73, 0.74, 0.72, 0.75]
    # Seeds in a different order on each side: pairing must follow the seed, not the position.
    result = stats.compare(
        "accuracy",
        baseline,
        [candidate[2], candidate[0], candidate[3], candidate[1]],
        baseline_seeds=[1, 2, 3, 4],
        candidate_seeds=[3, 1, 4, 2],
    )
    differences = np.array(candidate) - np.array(baseline)
    t = differences.mean() / (differences.std(ddof=1) / math.sqrt(4))
    assert result.paired.statistic == pytest.approx(t)
    assert result.paired.p_value == pytest.approx(2 * scipy_stats.t.sf(abs(t), 3))
    assert result.primary_test[0] == "paired t-test"
    assert "paired" in result.verdict


def test_no_paired_test_when_seeds_differ():
    result = stats.compare(
        "accuracy",
        [1.0, 2.0, 3.0],
        [2.0, 3.0, 4.5],
        baseline_seeds=[1, 2, 3],
        candidate_seeds=[1, 2, 4],
    )
    assert result.paired is None and result.welch is not None


def test_mann_whitney_matches_the_exact_distribution():
    # Complete separation of 3 vs 3: U = 9 for the candidate, exact two-sided p = 2 / C(6, 3).
    result = stats.compare("latency", baseline=[1.0, 2.0, 3.0], candidate=[4.0, 5.0, 6.0])
    assert result.mann_whitney.statistic == 9
    assert result.mann_whitney.p_value == pytest.approx(2 / math.comb(6, 3))


def test_effect_sizes_are_cohens_d_and_hedges_g():
    baseline, candidate = [1.0, 2.0, 3.0], [3.0, 4.0, 5.0]
    # Both samples have variance 1, so the pooled sd is 1 and d is the mean difference.
    d, g = stats.effect_sizes(baseline, candidate)
    assert d == pytest.approx(2.0)
    dof = 4
    exact_correction = math.gamma(dof / 2) / (math.sqrt(dof / 2) * math.gamma((dof - 1) / 2))
    assert g == pytest.approx(2.0 * exact_correction)
    assert g == pytest.approx(2.0 * (1 - 3 / (4 * dof - 1)), abs=0.01)  # the usual approximation


def test_relative_difference_is_percent_of_baseline():
    result = stats.compare("accuracy", [0.80, 0.80], [0.76, 0.76])
    assert result.difference == pytest.approx(-0.04)
    assert result.relative_difference == pytest.approx(-5.0)


def test_too_few_runs_give_no_test_and_say_so():
    result = stats.compare("accuracy", [0.8], [0.9, 0.91])
    assert result.welch is None and result.mann_whitney is None and result.significant is None
    assert result.verdict == "Not enough runs: at least 2 per variant are needed."


def test_identical_runs_are_not_called_significant():
    result = stats.compare("accuracy", [0.8, 0.8], [0.8, 0.8])
    assert result.significant is None
    assert "No variation" in result.verdict


def test_non_significant_difference_is_worded_plainly():
    result = stats.compare("accuracy", [0.80, 0.85, 0.78], [0.81, 0.79, 0.84])
    assert result.significant is False
    assert result.verdict.startswith("No significant difference at p < 0.05")


def test_stratified_table_per_bucket_and_variant():
    rows = [("short", "baseline", v) for v in (1.0, 2.0, 3.0, 4.0)] + [
        ("long", "candidate", 10.0),
        ("long", "candidate", float("inf")),
    ]
    strata = {(s.bucket, s.variant): s for s in stats.stratify(rows)}
    short = strata[("short", "baseline")]
    assert short.n == 4 and short.mean == 2.5
    assert short.std == pytest.approx(np.std([1, 2, 3, 4], ddof=1))
    assert short.p5 == pytest.approx(np.percentile([1, 2, 3, 4], 5))
    long = strata[("long", "candidate")]
    assert (long.n, long.mean, long.std) == (1, 10.0, None)


def test_pareto_front_keeps_only_undominated_points():
    # (quality, cost): higher quality and lower cost are better.
    points = [(0.90, 10.0), (0.85, 5.0), (0.80, 6.0), (0.95, 20.0), (0.90, 12.0)]
    assert stats.pareto_front(points) == [0, 1, 3]


def test_pareto_front_when_lower_quality_is_better():
    points = [(2.0, 1.0), (1.0, 2.0), (3.0, 3.0)]
    assert stats.pareto_front(points, maximise_quality=False) == [0, 1]


def test_pareto_front_keeps_equal_points_both():
    assert stats.pareto_front([(0.9, 10.0), (0.9, 10.0), (0.9, 11.0)]) == [0, 1]


def test_means_by_group_uses_only_rows_with_both_values():
    rows = [("a", 1.0, 10.0), ("a", 3.0, 30.0), ("a", 5.0, None), ("a", math.nan, 1.0)]
    rows += [("b", 2.0, 4.0)]
    assert stats.means_by_group(rows) == {"a": (2.0, 20.0, 2), "b": (2.0, 4.0, 1)}


def test_quality_cost_scatter_marks_the_front_and_drops_non_finite_rows():
    rows = [("r1", "v", 0.9, 10.0), ("r2", "v", math.inf, 1.0), ("r3", "w", 0.8, 12.0)]
    chart = charts.quality_cost_scatter(rows, quality="acc", cost="gpu_hours")
    assert [(p["label"], p["front"]) for p in chart["points"]] == [("r1", True), ("r3", False)]
    assert chart["y_better"] == "higher" and chart["dim_dominated"] is False
    lower = charts.quality_cost_scatter(rows, quality="err", cost="s", higher_is_better=False)
    assert [p["front"] for p in lower["points"]] == [True, True]
    assert charts.quality_cost_scatter([rows[1]], quality="acc", cost="gpu_hours") is None


def test_brier_score_and_calibration_bins():
    probabilities = [0.9, 0.8, 0.15, 0.1, 0.95]
    outcomes = [1, 0, 0, 0, 1]
    expected = np.mean([(0.9 - 1) ** 2, 0.8**2, 0.15**2, 0.1**2, (0.95 - 1) ** 2])
    assert stats.brier_score(probabilities, outcomes) == pytest.approx(expected)
    bins = {
        (round(b.low, 1), round(b.high, 1)): b for b in stats.calibration(probabilities, outcomes)
    }
    assert set(bins) == {(0.1, 0.2), (0.8, 0.9), (0.9, 1.0)}
    assert bins[(0.1, 0.2)].count == 2 and bins[(0.1, 0.2)].observed_rate == 0
    assert bins[(0.9, 1.0)].mean_forecast == pytest.approx(0.925)
    assert bins[(0.9, 1.0)].observed_rate == 1
    assert stats.brier_score([], []) is None
