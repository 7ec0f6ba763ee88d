"""How many independent timings a series of correlated ones is worth.

Timings on a shared machine are not independent: the same loop drifts by percents over
seconds, so successive timings share their deviation. n such timings carry about n / τ
timings' worth of information, τ being the integrated autocorrelation time. The median's
interval is widened by it, and the stopping rule waits until the series holds enough
effective timings for τ itself to be trusted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

#: Where the indicator "at or below" is cut for its autocorrelation.
_QUANTILES = (0.3, 0.4, 0.5, 0.6, 0.7)
#: Longer series are reduced to this many block means before their autocorrelation is taken.
_MAX_POINTS = 1 << 15
# z for a two-sided 95% interval.
_Z95 = 1.959963984540054


def autocorrelation_time(samples: Sequence[float]) -> float:
    """τ for the median of ``samples`` (in the order they were taken): the larger of the log
    timings' and of the indicator "at or below the median"'s, each by Geyer's initial
    monotone positive sequence. 1 for independent timings, larger the longer deviations
    persist (``inf`` should the estimated autocorrelation never turn negative, which the
    mean-removed estimate only does on degenerate series). The indicator's
    is the one the median's variance depends on; the log timings' is steadier on short
    series; the larger errs on the wide side."""
    n = len(samples)
    if n < 4:
        return 1.0
    import numpy as np

    x = np.log(np.asarray(samples, dtype=np.float64))
    # Indicators at several quantiles, not only the sample median: when the timings sit in
    # two levels, the sample median falls inside one of them and its indicator follows the
    # noise, while the true median lies between the levels and its indicator follows the
    # level, the slower process.
    cuts = np.quantile(x, _QUANTILES)
    return max(_tau(x), *(_tau((x <= c).astype(np.float64)) for c in cuts))


def _tau(x: Any) -> float:
    """τ of one series; a long one through the means of consecutive blocks, so that τ of a
    million timings costs milliseconds: Var(mean) = Var(x)·τ/n = Var(block means)·τ_m/m gives
    τ = b · Var(block means) / Var(x) · τ_m exactly, τ_m being the block means' own τ."""
    n = int(x.size)
    if n <= _MAX_POINTS:
        return _geyer_tau(x)
    b: int = n // _MAX_POINTS
    m: int = n // b
    var = float(x[:m * b].var())
    if var <= 0:
        return 1.0
    means = x[:m * b].reshape(m, b).mean(axis=1)
    return max(1.0, b * float(means.var()) / var * _geyer_tau(means))


def _geyer_tau(x: Any) -> float:
    import numpy as np

    n = x.size
    x = x - x.mean()
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(x, size)
    acov = np.fft.irfft(f * np.conj(f), size)[:n]
    if acov[0] <= 0:
        return 1.0  # constant: nothing persists
    rho = acov / acov[0]
    # Γ_m = ρ_2m + ρ_2m+1 (ρ_0 = 1) is positive and decreasing for a reversible process;
    # the sum runs while the estimates say so, made monotone against noise.
    gamma = rho[:2 * (n // 2)].reshape(-1, 2).sum(axis=1)
    stop = np.flatnonzero(gamma <= 0)
    if stop.size == 0:
        return math.inf
    gamma = np.minimum.accumulate(gamma[:int(stop[0])])
    return max(1.0, float(2.0 * gamma.sum() - 1.0))


def t95(df: float) -> float:
    """Student's t for a two-sided 95% interval at ``df`` degrees of freedom (Cornish-Fisher
    expansion; within 0.2% of the exact value from 3 degrees of freedom up)."""
    if df <= 1:
        return 12.706204736174707
    return t_quantile(_Z95, df)


def t_quantile(z: float, df: float) -> float:
    """Student's t quantile matching the normal quantile ``z`` at ``df`` degrees of freedom
    (Cornish-Fisher expansion: for z = 2.58, within 3% of the exact value at 3 degrees of
    freedom, 0.6% at 5); below one degree of freedom, the value at one."""
    df = max(1.0, df)
    return (z + (z ** 3 + z) / (4 * df) + (5 * z ** 5 + 16 * z ** 3 + 3 * z) / (96 * df ** 2)
            + (3 * z ** 7 + 19 * z ** 5 + 17 * z ** 3 - 15 * z) / (384 * df ** 3))
