"""Step changes in a case's history on a host: binary segmentation with a noise rule.

A series is the ok runs of one host × vendor × cell in time order, valued by their median
latency. The detection itself (stats/steps.py) is written up in docs/methodology.md
("History and step changes").
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flagbench.report.selection import CellKey, series_key
from flagbench.stats.steps import step_cuts
from flagbench.store import StoredRun

if TYPE_CHECKING:
    pass

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
    halfs = [
        (hi - lo) / 2 for r in series.runs
        if (lo := r.metric("latency_median_ci_low_s")) is not None
        and (hi := r.metric("latency_median_ci_high_s")) is not None
    ]
    cuts = step_cuts(values, halfs)
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
