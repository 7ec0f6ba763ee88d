"""Summary statistics of per-iteration latencies, in plain Python so they load fast."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# z for a two-sided 95% interval.
_Z95 = 1.959963984540054


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method) of already sorted values."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {q}")
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def median_ci(sorted_values: Sequence[float]) -> tuple[float, float]:
    """Distribution-free 95% confidence interval of the median from order statistics.

    The ranks come from the normal approximation to Binomial(n, 1/2); no assumption
    about the latency distribution is made, which matters for skewed timings.
    """
    n = len(sorted_values)
    if n == 0:
        raise ValueError("median CI of no values")
    half = _Z95 * math.sqrt(n) / 2.0
    # 1-based ranks j = n/2 - half and k = 1 + n/2 + half (n=100 gives 40 and 61).
    lo = max(0, math.floor(n / 2.0 - half) - 1)
    hi = min(n - 1, math.ceil(n / 2.0 + half))
    return sorted_values[lo], sorted_values[hi]


def relative_ci_halfwidth(sorted_values: Sequence[float]) -> float:
    """Half the width of the median's 95% CI as a fraction of the median."""
    lo, hi = median_ci(sorted_values)
    med = percentile(sorted_values, 50)
    if med <= 0:
        return math.inf
    return (hi - lo) / 2.0 / med


@dataclass(frozen=True)
class LatencyStats:
    """Summary of per-iteration latencies in seconds."""

    n: int
    median: float
    mean: float
    p90: float
    p99: float
    min: float
    max: float
    std: float
    iqr: float
    ci_low: float
    ci_high: float

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError("statistics need at least one sample")
        if self.min <= 0:
            raise ValueError(f"latencies must be positive, got min {self.min!r}")

    @property
    def cv(self) -> float:
        """Coefficient of variation (std / mean)."""
        return self.std / self.mean

    @property
    def ci_rel_halfwidth(self) -> float:
        """Half-width of the median's 95% CI relative to the median."""
        return (self.ci_high - self.ci_low) / 2.0 / self.median


def summarize(samples: Sequence[float]) -> LatencyStats:
    """Summarise latencies (seconds); std is the sample standard deviation."""
    if not samples:
        raise ValueError("cannot summarise zero samples")
    s = sorted(samples)
    n = len(s)
    mean = math.fsum(s) / n
    var = math.fsum((x - mean) ** 2 for x in s) / (n - 1) if n > 1 else 0.0
    lo, hi = median_ci(s)
    return LatencyStats(
        n=n,
        median=percentile(s, 50),
        mean=mean,
        p90=percentile(s, 90),
        p99=percentile(s, 99),
        min=s[0],
        max=s[-1],
        std=math.sqrt(var),
        iqr=percentile(s, 75) - percentile(s, 25),
        ci_low=lo,
        ci_high=hi,
    )
