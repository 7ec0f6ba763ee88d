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
    mad: float = 0.0
    """Median absolute deviation from the median (unscaled)."""
    outliers: int = 0
    """Samples outside [p25 - 1.5 IQR, p75 + 1.5 IQR] (Tukey's fences); kept, only counted."""

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
    med = percentile(s, 50)
    q1, q3 = percentile(s, 25), percentile(s, 75)
    fence_lo, fence_hi = q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)
    return LatencyStats(
        n=n,
        median=med,
        mean=mean,
        p90=percentile(s, 90),
        p99=percentile(s, 99),
        min=s[0],
        max=s[-1],
        std=math.sqrt(var),
        iqr=q3 - q1,
        ci_low=lo,
        ci_high=hi,
        mad=percentile(sorted(abs(x - med) for x in s), 50),
        outliers=sum(1 for x in s if x < fence_lo or x > fence_hi),
    )


#: Variation above which a run carries a stability warning: beyond it, a 3% difference
#: between two runs cannot be told from noise without many more samples.
UNSTABLE_CV = 0.10


def stability_warnings(stats: LatencyStats, target_ci: float) -> list[str]:
    """Plain-language warnings about how far this run's figures can be trusted."""
    warnings = []
    if stats.n > 1 and stats.cv > UNSTABLE_CV:
        warnings.append(f"unstable: coefficient of variation {stats.cv:.1%} "
                        f"(above {UNSTABLE_CV:.0%})")
    if target_ci > 0 and stats.ci_rel_halfwidth > target_ci:
        warnings.append(f"median CI ±{stats.ci_rel_halfwidth:.1%} did not reach the "
                        f"±{target_ci:.1%} target")
    if stats.n >= 10 and stats.outliers > stats.n * 0.05:
        warnings.append(f"{stats.outliers} of {stats.n} samples are outliers (Tukey 1.5 IQR)")
    return warnings
