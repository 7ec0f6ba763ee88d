"""flagbench.stats against hand-computed and numpy values."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable

import numpy as np
import pytest

from flagbench.stats.autocorrelation import autocorrelation_time
from flagbench.stats.summary import (
    median_ci,
    median_interval,
    percentile,
    relative_ci_halfwidth,
    summarize,
)


def test_percentile_matches_numpy_linear() -> None:
    rng = random.Random(1)
    values = sorted(rng.uniform(1, 2) for _ in range(37))
    for q in (0, 1, 10, 25, 50, 75, 90, 99, 100):
        assert percentile(values, q) == pytest.approx(np.percentile(values, q))


def test_summarize_known_values() -> None:
    s = summarize([4.0, 1.0, 3.0, 2.0, 5.0])
    assert (s.n, s.median, s.mean, s.min, s.max) == (5, 3.0, 3.0, 1.0, 5.0)
    assert s.std == pytest.approx(math.sqrt(2.5))  # sample standard deviation
    assert s.iqr == pytest.approx(2.0)
    assert s.p90 == pytest.approx(4.6)
    assert s.cv == pytest.approx(math.sqrt(2.5) / 3)


def test_median_ci_ranks_for_100_values() -> None:
    values = [float(i) for i in range(1, 101)]  # value == 1-based rank
    assert median_ci(values) == (40.0, 61.0)


def test_median_ci_covers_true_median_about_95_percent() -> None:
    rng = random.Random(7)
    hits = 0
    trials = 400
    for _ in range(trials):
        sample = sorted(rng.expovariate(1.0) for _ in range(60))
        lo, hi = median_ci(sample)
        hits += lo <= math.log(2) <= hi
    assert 0.90 <= hits / trials <= 0.99


def test_ci_narrows_with_more_samples() -> None:
    rng = random.Random(3)
    small = [rng.gauss(10, 1) for _ in range(20)]
    large = [rng.gauss(10, 1) for _ in range(2000)]
    assert relative_ci_halfwidth(large) < relative_ci_halfwidth(small) / 4


def _drifting(rng: random.Random, n: int, phi: float) -> list[float]:
    """AR(1) timings around a true median of 1.0: each shares most of the previous one's
    deviation, as timings on a drifting machine do."""
    x, out = 0.0, []
    for _ in range(n):
        x = phi * x + rng.gauss(0, 0.02 * math.sqrt(1 - phi * phi))
        out.append(1.0 + x)
    return out


def _coverage(phi: float, n: int, interval: Callable[[list[float]], tuple[float, float]],
              trials: int = 300) -> float:
    rng = random.Random(11)
    hits = 0
    for _ in range(trials):
        lo, hi = interval(_drifting(rng, n, phi))
        hits += lo <= 1.0 <= hi
    return hits / trials


def test_median_interval_covers_the_median_when_timings_drift() -> None:
    # Order statistics alone claim 95% and cover the true median less than half the time
    # when successive timings are correlated; the batch-median interval restores coverage.
    assert _coverage(0.9, 400, lambda v: median_ci(sorted(v))) < 0.6
    assert _coverage(0.9, 400, median_interval) >= 0.88


def test_median_interval_stays_close_to_order_statistics_for_independent_timings() -> None:
    # Looked at once, the interval is a 99% one (z = 2.58 for the stopping rule's 14 looks):
    # about 1.3 times the classic 95% order-statistic interval, and a little more for τ̂.
    assert 0.97 <= _coverage(0.0, 400, median_interval) <= 1.0
    rng = random.Random(5)
    widths = []
    for _ in range(100):
        v = _drifting(rng, 400, 0.0)
        lo, hi = median_interval(v)
        olo, ohi = median_ci(sorted(v))
        widths.append((hi - lo) / (ohi - olo))
    assert 1.25 <= statistics.median(widths) <= 1.6


def test_interval_follows_time_order() -> None:
    rng = random.Random(2)
    drifting = _drifting(rng, 400, 0.9)
    shuffled = rng.sample(drifting, len(drifting))  # the same timings, drift broken up
    assert relative_ci_halfwidth(drifting) > 1.5 * relative_ci_halfwidth(shuffled)


def test_autocorrelation_time_has_the_known_value() -> None:
    # Independent timings: 1. Log-AR(1) with lag-1 correlation φ: (1 + φ) / (1 - φ), 19 at 0.9.
    rng = np.random.default_rng(3)
    assert autocorrelation_time(np.exp(rng.normal(0, 0.02, 20_000)).tolist()) < 1.2
    phi, n = 0.9, 200_000  # long enough that τ is taken over block means (as at µs)
    e = rng.normal(0, 0.02 * math.sqrt(1 - phi * phi), n)
    x = np.empty(n)
    x[0] = 0.0
    for i in range(1, n):
        x[i] = phi * x[i - 1] + e[i]
    assert 16 <= autocorrelation_time(np.exp(x).tolist()) <= 23
    # A steady trend over 200 timings is worth a few independent ones, not 200.
    assert autocorrelation_time([1 + 0.001 * i for i in range(200)]) > 40
    assert autocorrelation_time([1.0] * 50) == 1.0


def test_single_sample_and_refusals() -> None:
    s = summarize([0.5])
    assert s.median == s.ci_low == s.ci_high == 0.5 and s.std == 0.0
    with pytest.raises(ValueError):
        summarize([])
    with pytest.raises(ValueError):
        summarize([0.0, 1.0])  # a non-positive timing is refused, as pyperf does


def test_mad_and_outliers() -> None:
    values = [10.0] * 20 + [11.0] * 20 + [50.0]  # one far outlier
    s = summarize(values)
    # median 11; deviations: twenty 0s, twenty 1s and 39, so their median is exactly 1
    assert s.mad == pytest.approx(1.0)
    assert s.outliers == 1


def test_stability_warnings() -> None:
    from flagbench.api.measurement import stability_warnings

    steady = summarize([0.010 + 0.00001 * (i % 3) for i in range(100)])
    assert stability_warnings(steady, target_ci=0.01) == []
    noisy = summarize([0.010, 0.020] * 20)
    warnings = stability_warnings(noisy, target_ci=0.01)
    assert any(w.startswith("unstable: coefficient of variation") for w in warnings)
    assert any("did not reach the ±1.0% target" in w for w in warnings)
