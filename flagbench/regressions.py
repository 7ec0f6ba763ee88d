"""Step changes in a case's history on a host: binary segmentation with a noise rule.

A series is the ok runs of one host × vendor × cell in time order, valued by their median
latency. The method is written up in docs/methodology.md ("History and step changes").
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flagbench.selection import CellKey, series_key
from flagbench.store import StoredRun

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

MIN_SEGMENT = 2
"""Runs on each side of a step: one odd run is never a step, two in a row can be."""
MIN_CHANGE = 0.05
"""Steps below 5% are not flagged, however steady the series (too small to act on)."""
NOISE_FACTOR = 3.0
"""A step must exceed three times the series' own noise (robust, MAD-based)."""
METRIC = "latency_median_s"


@dataclass(frozen=True)
class StepChange:
    """The median latency of a series moved at ``run_id`` and stayed moved."""

    host: str
    vendor: str
    cell: CellKey
    run_id: int
    before_s: float
    after_s: float
    runs_before: int
    runs_after: int

    @property
    def change(self) -> float:
        """Relative change of the median latency (+0.12: 12% slower)."""
        return self.after_s / self.before_s - 1.0

    @property
    def kind(self) -> str:
        """"regression" (slower) or "improvement" (faster)."""
        return "regression" if self.change > 0 else "improvement"

    @property
    def label(self) -> str:
        """Which series, for people."""
        return f"{self.host} · {self.vendor} · {self.cell.label}"


@dataclass(frozen=True)
class Series:
    """The ok runs of one host × vendor × cell, oldest first."""

    host: str
    vendor: str
    cell: CellKey
    runs: tuple[StoredRun, ...]

    @property
    def label(self) -> str:
        """Which series, for people."""
        return f"{self.host} · {self.vendor} · {self.cell.label}"


def build_series(runs: Iterable[StoredRun]) -> list[Series]:
    """Group ok runs that have the metric into series, each in time order."""
    groups: dict[tuple[str, str, CellKey], list[StoredRun]] = {}
    for r in runs:
        if r.status == "ok" and r.metric(METRIC):
            groups.setdefault(series_key(r), []).append(r)
    return [
        Series(host, vendor, cell, tuple(sorted(rs, key=lambda r: (r.started_at, r.id))))
        for (host, vendor, cell), rs in sorted(groups.items())
    ]


def find_steps(series: Series) -> list[StepChange]:
    """Every accepted step of one series, oldest first."""
    values = [float(r.metric(METRIC) or 0.0) for r in series.runs]
    noise = _noise(series.runs, values)
    cuts = sorted(_segment(values, 0, len(values), noise))
    out = []
    for i, cut in enumerate(cuts):
        lo = cuts[i - 1] if i else 0
        hi = cuts[i + 1] if i + 1 < len(cuts) else len(values)
        out.append(StepChange(
            series.host, series.vendor, series.cell, series.runs[cut].id,
            statistics.median(values[lo:cut]), statistics.median(values[cut:hi]),
            cut - lo, hi - cut))
    return out


def find_all_steps(runs: Iterable[StoredRun]) -> list[StepChange]:
    """Steps of every series in ``runs``."""
    return [s for series in build_series(runs) for s in find_steps(series)]


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


def _noise(runs: Sequence[StoredRun], values: Sequence[float]) -> float:
    """The series' noise: the larger of the run-to-run scatter around a running median
    (1.4826 × MAD of first differences / √2, robust to the steps themselves) and the
    typical half-width of a run's own median CI."""
    diffs = [abs(b - a) for a, b in zip(values, values[1:], strict=False)]
    scatter = 1.4826 * statistics.median(diffs) / 2 ** 0.5 if diffs else 0.0
    halfs = [
        (hi - lo) / 2 for r in runs
        if (lo := r.metric("latency_median_ci_low_s")) is not None
        and (hi := r.metric("latency_median_ci_high_s")) is not None
    ]
    return max(scatter, statistics.median(halfs) if halfs else 0.0)
