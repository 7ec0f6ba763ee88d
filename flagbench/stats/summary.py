"""Summary statistics of per-iteration latencies, in plain Python so they load fast."""

from __future__ import annotations

import math
from collections.abc import Sequence

from flagbench.api.measurement import LatencyStats
from flagbench.stats.autocorrelation import autocorrelation_time, t_quantile

# z for a two-sided 95% interval.
_Z95 = 1.959963984540054
#: z of the stored interval: a normal statistic watched at the default stopping rule's 14
#: looks (2, 3, ..., 15 s) strays beyond ±2.58 at one of them 5% of the time (Brownian
#: motion, simulated), beyond ±1.96 at one of them about 20%; the rule stops at the first
#: look whose interval is narrow, so only this z keeps 95% at the moment it stops.
Z_LOOKS = 2.58
#: τ̂ is itself uncertain: its relative variance is about 2(2M + 1)/n over a window of M
#: lags (Sokal), M about 3τ, which is a χ² on n / (6τ) degrees of freedom.
TAU_DF_DIVISOR = 6.0


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method) of already sorted values."""
    if len(sorted_values) == 0:
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


def _interval(samples: Sequence[float], s: Sequence[float] | None = None
              ) -> tuple[float, float, float, float]:
    """(low, high, median, τ); ``s``: the samples already sorted, where the caller has them."""
    s = sorted(samples) if s is None else s
    med = percentile(s, 50)
    n = len(s)
    tau = autocorrelation_time(samples)
    if not math.isfinite(tau):
        return s[0], s[-1], med, tau  # not even one effective timing: the whole range
    # Order statistics of n timings worth n / τ independent ones: the ranks' spread grows
    # by √τ; Student's t on the degrees of freedom τ̂ rests on pays for estimating it, at
    # the z that holds over the stopping rule's looks. Ranks beyond the sample: its range.
    half = t_quantile(Z_LOOKS, n / (TAU_DF_DIVISOR * tau) - 1) * math.sqrt(n * tau) / 2.0
    lo = max(0, math.floor(n / 2.0 - half) - 1)
    hi = min(n - 1, math.ceil(n / 2.0 + half))
    return s[lo], s[hi], med, tau


def median_interval(samples: Sequence[float]) -> tuple[float, float]:
    """The stored 95% interval of the median, from timings in the order they were taken:
    order statistics with the ranks' spread widened for the timings' autocorrelation
    (``autocorrelation.py``), so drift between timings widens the interval instead of
    hiding; 95% at the moment the stopping rule stops (``Z_LOOKS``), about 99% on one look."""
    lo, hi, _, _ = _interval(samples)
    return lo, hi


def relative_ci_halfwidth(samples: Sequence[float]) -> float:
    """Half the width of the median's 95% interval (``median_interval``) as a fraction of
    the median; ``samples`` in the order they were taken."""
    return interval_check(samples)[0]


def interval_check(samples: Sequence[float]) -> tuple[float, float]:
    """What the stopping rule asks, computed once: the interval's relative half-width, and
    how many independent timings the samples are worth (n / τ)."""
    import numpy as np

    ordered: Sequence[float] = np.sort(np.asarray(samples, dtype=np.float64))  # type: ignore[assignment]
    lo, hi, med, tau = _interval(samples, ordered)
    half = (hi - lo) / 2.0 / med if med > 0 else math.inf
    return float(half), len(samples) / tau


def summarize(samples: Sequence[float]) -> LatencyStats:
    """Summarise latencies (seconds) given in the order they were taken; std is the sample
    standard deviation, the median's interval is ``median_interval``."""
    if not samples:
        raise ValueError("cannot summarise zero samples")
    s = sorted(samples)
    n = len(s)
    mean = math.fsum(s) / n
    var = math.fsum((x - mean) ** 2 for x in s) / (n - 1) if n > 1 else 0.0
    lo, hi, med, _ = _interval(samples, s)
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

