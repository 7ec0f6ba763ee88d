"""Step changes in a series of values: binary segmentation with a noise rule.

The method is written up in docs/methodology.md ("History and step changes"); the series of
stored runs it is applied to are built in report/history.py.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

MIN_SEGMENT = 2
"""Runs on each side of a step: one odd run is never a step, two in a row can be."""
MIN_CHANGE = 0.05
"""Steps below 5% are not flagged, however steady the series (too small to act on)."""
NOISE_FACTOR = 3.0
"""A step must exceed three times the series' own noise (robust, MAD-based)."""


def step_cuts(values: Sequence[float], ci_halfwidths: Sequence[float]) -> list[int]:
    """Indices where ``values`` (in time order) step and stay stepped, oldest first;
    ``ci_halfwidths`` are the half-widths of each value's own 95% interval, where known."""
    return sorted(_segment(values, 0, len(values), series_noise(values, ci_halfwidths)))


def series_noise(values: Sequence[float], ci_halfwidths: Sequence[float]) -> float:
    """The series' noise: the larger of the run-to-run scatter around a running median
    (1.4826 × MAD of first differences / √2, robust to the steps themselves) and the
    typical half-width of a run's own median CI."""
    diffs = [abs(b - a) for a, b in zip(values, values[1:], strict=False)]
    scatter = 1.4826 * statistics.median(diffs) / 2 ** 0.5 if diffs else 0.0
    return max(scatter, statistics.median(ci_halfwidths) if ci_halfwidths else 0.0)


def _segment(values: Sequence[float], lo: int, hi: int, noise: float) -> list[int]:
    """Cut points in values[lo:hi]: the best L1 split if it passes the rule, recursively."""
    if hi - lo < 2 * MIN_SEGMENT:
        return []
    import numpy as np

    seg = np.asarray(values[lo:hi], dtype=np.float64)
    costs = [_l1(seg[:k]) + _l1(seg[k:]) for k in range(MIN_SEGMENT, len(seg) - MIN_SEGMENT + 1)]
    best_cut = lo + MIN_SEGMENT + int(np.argmin(costs))
    before = statistics.median(values[lo:best_cut])
    after = statistics.median(values[best_cut:hi])
    step = abs(after - before)
    if before <= 0 or step < MIN_CHANGE * before or step <= NOISE_FACTOR * noise:
        return []
    return [*_segment(values, lo, best_cut, noise), best_cut,
            *_segment(values, best_cut, hi, noise)]


def _l1(xs: NDArray[np.float64]) -> float:
    import numpy as np

    return float(np.abs(xs - np.median(xs)).sum())

