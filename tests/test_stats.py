"""flagbench.stats against hand-computed and numpy values."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from flagbench.stats import median_ci, percentile, relative_ci_halfwidth, summarize


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
    small = sorted(rng.gauss(10, 1) for _ in range(20))
    large = sorted(rng.gauss(10, 1) for _ in range(2000))
    assert relative_ci_halfwidth(large) < relative_ci_halfwidth(small) / 4


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
    assert s.mad == pytest.approx(0.0) or s.mad == pytest.approx(1.0)
    assert s.outliers == 1


def test_stability_warnings() -> None:
    from flagbench.stats import stability_warnings

    steady = summarize([0.010 + 0.00001 * (i % 3) for i in range(100)])
    assert stability_warnings(steady, target_ci=0.01) == []
    noisy = summarize([0.010, 0.020] * 20)
    warnings = stability_warnings(noisy, target_ci=0.01)
    assert any(w.startswith("unstable: coefficient of variation") for w in warnings)
    assert any("did not reach the ±1.0% target" in w for w in warnings)
