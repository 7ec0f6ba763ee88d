"""Summary statistics of per-iteration latencies, in plain Python so they load fast."""

from __future__ import annotations

import math
from collections.abc import Sequence

from flagbench.api.measurement import LatencyStats

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


#: Consecutive batches for the drift-aware interval: nine degrees of freedom, and batches
#: long enough (at least three timings) that their medians mean something.
_BATCHES = 10
_MIN_PER_BATCH = 3
# Student's t for a two-sided 95% interval with _BATCHES - 1 degrees of freedom.
_T95_9DF = 2.2621571627409915


def batch_median_halfwidth(samples: Sequence[float]) -> float | None:
    """Half-width of the median's 95% interval from the spread of consecutive batch medians,
    or None below 30 timings.

    Order statistics assume independent timings. On a shared machine they are not: the same
    loop drifts by several percent over seconds, so successive timings share the drift and
    the order-statistic interval comes out far too narrow. Splitting the timings, in the order
    they were taken, into ten batches and using the batch medians' spread (the batch-means
    method of simulation output analysis) measures the drift the interval has to cover.
    """
    n = len(samples)
    if n < _BATCHES * _MIN_PER_BATCH:
        return None
    medians = []
    for b in range(_BATCHES):
        batch = sorted(samples[b * n // _BATCHES:(b + 1) * n // _BATCHES])
        medians.append(percentile(batch, 50))
    mean = math.fsum(medians) / _BATCHES
    sd = math.sqrt(math.fsum((m - mean) ** 2 for m in medians) / (_BATCHES - 1))
    return _T95_9DF * sd / math.sqrt(_BATCHES)


def _interval_and_median(samples: Sequence[float],
                         s: Sequence[float] | None = None) -> tuple[float, float, float]:
    # ``s``: the samples already sorted, where the caller has them.
    s = sorted(samples) if s is None else s
    lo, hi = median_ci(s)
    med = percentile(s, 50)
    half = batch_median_halfwidth(samples)
    if half is None:
        return lo, hi, med
    # Kept within the timings' range, as the order-statistic interval always is.
    return max(s[0], min(lo, med - half)), min(s[-1], max(hi, med + half)), med


def median_interval(samples: Sequence[float]) -> tuple[float, float]:
    """The stored 95% interval of the median, from timings in the order they were taken: the
    wider of the order-statistic interval (exact for independent timings) and the
    batch-median interval (holds when the machine drifts)."""
    lo, hi, _ = _interval_and_median(samples)
    return lo, hi


def relative_ci_halfwidth(samples: Sequence[float]) -> float:
    """Half the width of the median's 95% interval (``median_interval``) as a fraction of
    the median; ``samples`` in the order they were taken."""
    lo, hi, med = _interval_and_median(samples)
    if med <= 0:
        return math.inf
    return (hi - lo) / 2.0 / med


def summarize(samples: Sequence[float]) -> LatencyStats:
    """Summarise latencies (seconds) given in the order they were taken; std is the sample
    standard deviation, the median's interval is ``median_interval``."""
    if not samples:
        raise ValueError("cannot summarise zero samples")
    s = sorted(samples)
    n = len(s)
    mean = math.fsum(s) / n
    var = math.fsum((x - mean) ** 2 for x in s) / (n - 1) if n > 1 else 0.0
    lo, hi, med = _interval_and_median(samples, s)
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

