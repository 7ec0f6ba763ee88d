"""Is one set of latencies faster than another, and can the difference be trusted?

The ratio of medians with a seeded bootstrap 95% interval (widened to cover drift within and
between runs, ``compare_runs``), and a Mann-Whitney U test on the raw per-iteration
samples (its p-value raised to the widened interval's where that is larger). Used by the
report's speed-ups and by ``flagbench compare`` (pairing of stored runs: report/pairing.py).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

ALPHA = 0.05
"""Significance level of every comparison (two-sided)."""
BOOTSTRAP_RESAMPLES = 1000
"""Enough for a stable 95% percentile interval (its ends move by well under 1% between seeds)."""
BOOTSTRAP_SEED = 20261125
"""Fixed, so one database always gives one report."""
MAX_BOOTSTRAP_SAMPLES = 4000
"""Larger sample sets are thinned to a seeded random subset for the bootstrap only, which
bounds its cost (a microsecond case can store a million iterations); the test uses all."""
_CHUNK_INDICES = 1_000_000  # indices drawn at once: 8 MB, whatever the sample count


@dataclass(frozen=True)
class Comparison:
    """B against A. ``ratio`` = median(B) / median(A) of latency: above 1, B is slower."""

    ratio: float
    ci_low: float
    ci_high: float
    p_value: float
    n_a: int
    n_b: int

    @property
    def significant(self) -> bool:
        """Both the test and the interval say the medians differ."""
        return self.p_value < ALPHA and not (self.ci_low <= 1.0 <= self.ci_high)

    @property
    def speedup(self) -> float:
        """How many times faster B is than A (A's median over B's)."""
        return 1.0 / self.ratio

    @property
    def verdict(self) -> str:
        """"faster", "slower" or "within noise" (B relative to A)."""
        if not self.significant:
            return "within noise"
        return "faster" if self.ratio < 1.0 else "slower"

    def change_text(self) -> str:
        """B's latency change against A with its interval, e.g. "+12.3% [+10.1, +14.0]"."""
        return (f"{(self.ratio - 1) * 100:+.1f}% "
                f"[{(self.ci_low - 1) * 100:+.1f}, {(self.ci_high - 1) * 100:+.1f}]")

    def speedup_text(self) -> str:
        """B's speed-up over A with its interval, e.g. "×1.38 [1.35–1.41]" ("×0.0041" for a
        250-fold slow-down: two significant digits below 0.1, never "×0.00")."""
        return (f"×{_times(self.speedup)} [{_times(1 / self.ci_high)}–"
                f"{_times(1 / self.ci_low)}]")

    def p_text(self) -> str:
        """The p-value as people read it."""
        return "p<0.001" if self.p_value < 0.001 else f"p={self.p_value:.3f}"


def _times(factor: float) -> str:
    return f"{factor:.2f}" if factor >= 0.1 else f"{factor:.2g}"


def compare_samples(a: Sequence[float], b: Sequence[float],
                    seed: int = BOOTSTRAP_SEED) -> Comparison:
    """Compare two sets of raw latencies (seconds); each needs at least two values."""
    from scipy.stats import mannwhitneyu

    xa = np.asarray(a, dtype=np.float64)
    xb = np.asarray(b, dtype=np.float64)
    if xa.size < 2 or xb.size < 2:
        raise ValueError("a comparison needs at least two samples on each side")
    ratio = float(np.median(xb) / np.median(xa))
    rng = np.random.default_rng(seed)
    ta, tb = _thin(xa, rng), _thin(xb, rng)
    ratios = np.concatenate([
        _boot_medians(tb, rng, k) / _boot_medians(ta, rng, k)
        for k in _chunk_sizes(BOOTSTRAP_RESAMPLES, max(ta.size, tb.size))
    ])
    lo, hi = np.percentile(ratios, [2.5, 97.5])
    if np.all(xa == xa[0]) and np.all(xb == xb[0]):
        p = 1.0 if xa[0] == xb[0] else 0.0  # no spread: the test is undefined, the answer not
    else:
        p = float(mannwhitneyu(xa, xb, alternative="two-sided").pvalue)
    return Comparison(ratio=ratio, ci_low=float(lo), ci_high=float(hi),
                      p_value=p if math.isfinite(p) else 1.0, n_a=int(xa.size),
                      n_b=int(xb.size))


def compare_runs(a: Sequence[Sequence[float]], b: Sequence[Sequence[float]],
                 seed: int = BOOTSTRAP_SEED) -> Comparison:
    """Compare two sides given run by run (each run's latencies in the order taken).

    The bootstrap and the U test treat every iteration as independent, and on a drifting
    machine they are not: two runs of the same thing can then differ "significantly". So
    the interval is the wider of the bootstrap's and one built from each side's
    drift-aware median interval (autocorrelation within a run, round medians across runs,
    ``rounds.pooled_stats``), combined in quadrature on the log scale.
    """
    from flagbench.stats.rounds import pooled_stats

    c = compare_samples([x for run in a for x in run], [x for run in b for x in run], seed)
    sa, sb = pooled_stats(a), pooled_stats(b)
    # On the log scale, each end from the sides' matching ends (B low with A high, and the
    # reverse), the two added in quadrature: intervals may be lopsided once rounds disagree.
    down = math.hypot(math.log(sa.ci_high / sa.median), math.log(sb.median / sb.ci_low))
    up = math.hypot(math.log(sa.median / sa.ci_low), math.log(sb.ci_high / sb.median))
    wide = dataclasses.replace(c, ci_low=min(c.ci_low, c.ratio * math.exp(-down)),
                               ci_high=max(c.ci_high, c.ratio * math.exp(up)))
    return dataclasses.replace(wide, p_value=max(c.p_value, interval_p_value(wide)))


def interval_p_value(c: Comparison) -> float:
    """Two-sided p-value of "the medians are equal" read from ``c``'s 95% interval, taken as
    normal on the log scale with the half facing ×1.00 as its 1.96 σ.

    The U test counts every iteration as independent, so once drift widens the interval it
    can say p<0.001 about a difference the interval calls noise; the larger of the two keeps
    the p-value and the interval telling one story."""
    from scipy.stats import norm

    if c.ratio <= 0 or c.ci_low <= 0:
        return 1.0
    half = math.log(c.ratio / c.ci_low) if c.ratio >= 1 else math.log(c.ci_high / c.ratio)
    if half <= 0:
        return 0.0 if c.ratio != 1 else 1.0
    return float(2 * norm.sf(abs(math.log(c.ratio)) / (half / 1.959964)))


def _chunk_sizes(total: int, n: int) -> list[int]:
    # Few large draws for small samples (per-call overhead dominates), bounded memory for big.
    step = max(1, min(total, _CHUNK_INDICES // n))
    return [min(step, total - i) for i in range(0, total, step)]


def _thin(x: NDArray[np.float64], rng: np.random.Generator) -> NDArray[np.float64]:
    if x.size <= MAX_BOOTSTRAP_SAMPLES:
        return x
    return rng.choice(x, MAX_BOOTSTRAP_SAMPLES, replace=False)


def _boot_medians(x: NDArray[np.float64], rng: np.random.Generator,
                  k: int) -> NDArray[np.float64]:
    idx = rng.integers(0, x.size, size=(k, x.size))
    return np.median(x[idx], axis=1)


