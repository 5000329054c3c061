"""Statistics for the evidence pages: baseline versus candidate across seeds.

Every test statistic and interval comes from scipy.stats; this module only arranges inputs
and words the verdict. Functions take plain sequences of floats so they can be checked
against published examples without a database.
"""

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy import special, stats

ALPHA = 0.05


@dataclass(frozen=True)
class Summary:
    """One sample: n, mean, sample standard deviation and the 95% t-interval of the mean."""

    n: int
    mean: float | None
    std: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class TestResult:
    statistic: float
    p_value: float


@dataclass
class Comparison:
    """Baseline against candidate for one metric."""

    metric: str
    baseline: Summary
    candidate: Summary
    difference: float | None = None
    relative_difference: float | None = None  # percent of the baseline mean
    welch: TestResult | None = None
    paired: TestResult | None = None
    mann_whitney: TestResult | None = None
    cohens_d: float | None = None
    hedges_g: float | None = None
    significant: bool | None = None
    verdict: str = ""
    variant: str = "candidate"
    criteria: list = field(default_factory=list)  # [(statement, result label, badge)]

    @property
    def primary_test(self):
        """The paired test when seeds match (it removes seed-to-seed variance), else Welch."""
        return ("paired t-test", self.paired) if self.paired else ("Welch's t-test", self.welch)

    def as_dict(self):
        return asdict(self)


def _finite(values):
    array = np.asarray(list(values), dtype=float)
    return array[np.isfinite(array)]


def summarise(values, confidence=0.95):
    """n, mean, std (ddof=1) and the t-distribution confidence interval of the mean."""
    array = _finite(values)
    n = len(array)
    if n == 0:
        return Summary(0, None, None, None, None)
    mean = float(np.mean(array))
    if n == 1:
        return Summary(1, mean, None, None, None)
    std = float(np.std(array, ddof=1))
    if std == 0:
        return Summary(n, mean, 0.0, mean, mean)
    low, high = stats.t.interval(confidence, n - 1, loc=mean, scale=stats.sem(array))
    return Summary(n, mean, std, float(low), float(high))


def effect_sizes(baseline, candidate):
    """Cohen's d (pooled standard deviation) and Hedges' g (small-sample corrected).

    Positive when the candidate mean is higher. The pooled variance is the one Student's
    t-test uses; Hedges' correction is the exact gamma-function form.
    """
    baseline, candidate = _finite(baseline), _finite(candidate)
    n1, n2 = len(baseline), len(candidate)
    if n1 < 2 or n2 < 2:
        return None, None
    dof = n1 + n2 - 2
    pooled = math.sqrt(
        ((n1 - 1) * np.var(baseline, ddof=1) + (n2 - 1) * np.var(candidate, ddof=1)) / dof
    )
    if pooled == 0:
        return None, None
    d = float((np.mean(candidate) - np.mean(baseline)) / pooled)
    correction = special.gamma(dof / 2) / (math.sqrt(dof / 2) * special.gamma((dof - 1) / 2))
    return d, float(d * correction)


def _test(result):
    statistic, p_value = float(result.statistic), float(result.pvalue)
    if math.isnan(p_value):
        return None
    return TestResult(statistic, p_value)


def compare(
    metric, baseline, candidate, *, baseline_seeds=None, candidate_seeds=None, variant="candidate"
):
    """Compare two samples of per-run values for `metric`.

    With seeds for both sides, runs that share a seed are paired and a paired t-test is
    added. Non-finite values are left out (they are flagged elsewhere).
    """
    baseline_values = list(baseline)
    candidate_values = list(candidate)
    result = Comparison(
        metric=metric,
        baseline=summarise(baseline_values),
        candidate=summarise(candidate_values),
        variant=variant,
    )
    b, c = _finite(baseline_values), _finite(candidate_values)
    if len(b) and len(c):
        result.difference = float(np.mean(c) - np.mean(b))
        if np.mean(b) != 0:
            result.relative_difference = float(result.difference / abs(np.mean(b)) * 100)
    if len(b) >= 2 and len(c) >= 2:
        if not (_constant(b) and _constant(c)):
            result.welch = _test(stats.ttest_ind(c, b, equal_var=False))
        result.mann_whitney = _test(stats.mannwhitneyu(c, b, alternative="two-sided"))
        result.cohens_d, result.hedges_g = effect_sizes(b, c)
    pairs = matched_pairs(baseline_values, baseline_seeds, candidate_values, candidate_seeds)
    # Differences that are all equal (up to rounding) have no spread to test against.
    if pairs is not None and len(pairs[0]) >= 2 and not _constant(pairs[1] - pairs[0]):
        result.paired = _test(stats.ttest_rel(pairs[1], pairs[0]))
    result.significant, result.verdict = _verdict(result)
    return result


def _constant(array):
    return bool(np.allclose(array, array[0], rtol=1e-9, atol=1e-12))


def matched_pairs(baseline, baseline_seeds, candidate, candidate_seeds):
    """(baseline, candidate) arrays ordered by seed when both sides ran the same seeds."""
    if baseline_seeds is None or candidate_seeds is None:
        return None
    by_seed_b = _by_seed(baseline, baseline_seeds)
    by_seed_c = _by_seed(candidate, candidate_seeds)
    if by_seed_b is None or by_seed_c is None or set(by_seed_b) != set(by_seed_c):
        return None
    seeds = sorted(by_seed_b)
    return (
        np.array([by_seed_b[s] for s in seeds], dtype=float),
        np.array([by_seed_c[s] for s in seeds], dtype=float),
    )


def _by_seed(values, seeds):
    pairs = {}
    for value, seed in zip(values, seeds, strict=True):
        if seed is None or seed in pairs or not math.isfinite(value):
            return None  # unseeded or repeated seeds cannot be paired
        pairs[seed] = value
    return pairs


def _verdict(result):
    name, test = result.primary_test
    if test is None:
        if result.baseline.n < 2 or result.candidate.n < 2:
            return None, "Not enough runs: at least 2 per variant are needed."
        return None, "No variation between runs: a test is not meaningful."
    direction = "higher" if result.difference > 0 else "lower"
    tested = f"({name}, p = {test.p_value:.3g})"
    if test.p_value < ALPHA:
        return True, f"Candidate is {direction}; significant at p < 0.05 {tested}."
    return False, f"No significant difference at p < 0.05 {tested}."


@dataclass(frozen=True)
class Stratum:
    bucket: str
    variant: str
    n: int
    mean: float
    std: float | None
    p5: float


def stratify(rows):
    """Per (bucket, variant): n, mean, std and worst-case 5th percentile.

    `rows` are (bucket, variant, value). Buckets are where averages hide failures: a
    candidate can win on the mean and lose badly on one slice.
    """
    groups = {}
    for bucket, variant, value in rows:
        if value is not None and math.isfinite(value):
            groups.setdefault((bucket, variant), []).append(value)
    strata = []
    for (bucket, variant), values in sorted(groups.items()):
        array = np.asarray(values, dtype=float)
        strata.append(
            Stratum(
                bucket=bucket,
                variant=variant,
                n=len(array),
                mean=float(np.mean(array)),
                std=float(np.std(array, ddof=1)) if len(array) > 1 else None,
                p5=float(stats.scoreatpercentile(array, 5)),
            )
        )
    return strata


def pareto_front(points, *, maximise_quality=True):
    """Indices of the points (quality, cost) that no other point dominates.

    A point is dominated when another is at least as good on both axes and better on one:
    quality higher (or lower when maximise_quality is False) and cost lower.
    """
    front = []
    for i, (quality, cost) in enumerate(points):
        dominated = False
        for j, (other_quality, other_cost) in enumerate(points):
            if i == j:
                continue
            better_quality = (
                other_quality >= quality if maximise_quality else other_quality <= quality
            )
            if (
                better_quality
                and other_cost <= cost
                and (other_quality != quality or other_cost != cost)
            ):
                dominated = True
                break
        if not dominated:
            front.append(i)
    return front


def means_by_group(rows):
    """{group: (mean of a, mean of b, n)} over rows (group, a, b) where both are finite.

    The portfolio's quality-versus-cost plot puts one point per experiment's variant: the
    mean over its seeds of each axis, from the same runs, so that n is one count for both.
    """
    groups = {}
    for group, a, b in rows:
        if a is not None and b is not None and math.isfinite(a) and math.isfinite(b):
            groups.setdefault(group, []).append((a, b))
    return {
        group: (
            float(np.mean([a for a, _ in pairs])),
            float(np.mean([b for _, b in pairs])),
            len(pairs),
        )
        for group, pairs in groups.items()
    }


@dataclass(frozen=True)
class CalibrationBin:
    low: float
    high: float
    count: int
    mean_forecast: float
    observed_rate: float


def brier_score(probabilities, outcomes):
    """Mean squared error of probability forecasts against 0/1 outcomes (lower is better)."""
    probabilities = np.asarray(probabilities, dtype=float)
    outcomes = np.asarray(outcomes, dtype=float)
    if len(probabilities) == 0:
        return None
    return float(np.mean((probabilities - outcomes) ** 2))


def calibration(probabilities, outcomes, bins=10):
    """Forecasts binned by probability: how often things said at ~p% came true.

    Uses scipy.stats.binned_statistic; empty bins are left out.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    outcomes = np.asarray(outcomes, dtype=float)
    if len(probabilities) == 0:
        return []
    edges = np.linspace(0, 1, bins + 1)
    counts = stats.binned_statistic(probabilities, outcomes, "count", bins=edges)
    forecast = stats.binned_statistic(probabilities, probabilities, "mean", bins=edges)
    observed = stats.binned_statistic(probabilities, outcomes, "mean", bins=edges)
    return [
        CalibrationBin(
            low=float(edges[i]),
            high=float(edges[i + 1]),
            count=int(counts.statistic[i]),
            mean_forecast=float(forecast.statistic[i]),
            observed_rate=float(observed.statistic[i]),
        )
        for i in range(bins)
        if counts.statistic[i] > 0
    ]
