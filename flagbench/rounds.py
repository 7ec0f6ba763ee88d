"""Combine the rounds of a matrix: pooled statistics per cell and the drift between rounds."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from flagbench.result import RunResult, Status
from flagbench.spec import RunSpec
from flagbench.stats import LatencyStats, summarize


@dataclass(frozen=True)
class CombinedCell:
    """One matrix cell over all its ok rounds."""

    spec: RunSpec
    rounds: int
    pooled: LatencyStats
    """Statistics over every sample of every ok round."""
    round_medians: tuple[float, ...]

    @property
    def between_rounds_cv(self) -> float:
        """Coefficient of variation of the per-round medians: the machine's drift."""
        if len(self.round_medians) < 2:
            return 0.0
        return statistics.stdev(self.round_medians) / statistics.mean(self.round_medians)


def combine_rounds(results: Sequence[RunResult]) -> list[CombinedCell]:
    """Pool the ok runs of each cell, in first-seen order; cells with no ok run are left out."""
    cells: dict[tuple[str, str, int, str, str], list[RunResult]] = {}
    for r in results:
        if r.status is Status.OK and r.measurement is not None:
            cells.setdefault(r.spec.cell, []).append(r)
    combined = []
    for runs in cells.values():
        samples = [x for r in runs for x in (r.measurement.samples if r.measurement else ())]
        medians = tuple(r.measurement.stats.median for r in runs if r.measurement)
        combined.append(CombinedCell(runs[0].spec, len(runs), summarize(samples), medians))
    return combined
