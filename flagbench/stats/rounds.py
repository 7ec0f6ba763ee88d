"""Combine the rounds of a matrix: pooled statistics per cell and the drift between rounds."""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from flagbench.api.measurement import LatencyStats
from flagbench.api.result import RunResult, Status
from flagbench.api.spec import RunSpec
from flagbench.stats.summary import summarize


@dataclass(frozen=True)
class CombinedCell:
    """One matrix cell over all its ok rounds."""

    spec: RunSpec
    rounds: int
    pooled: LatencyStats
    """Statistics over every sample of every ok round, but the median: the median of the
    round medians, with an interval that also covers their spread (``pooled_stats``)."""
    round_medians: tuple[float, ...]

    @property
    def between_rounds_cv(self) -> float:
        """Coefficient of variation of the per-round medians: the machine's drift."""
        return between_rounds_cv(self.round_medians)


def between_rounds_cv(round_medians: Sequence[float]) -> float:
    """Coefficient of variation of per-round medians (0 for a single round)."""
    if len(round_medians) < 2:
        return 0.0
    return statistics.stdev(round_medians) / statistics.mean(round_medians)


def round_interval(median: float, round_medians: Sequence[float]) -> tuple[float, float]:
    """95% interval of the pooled median from the round medians alone: median ± t(R-1) ×
    their standard deviation / √R.

    Each round is a fresh process at another time, and on a shared machine the host's load
    moves a whole window (measured: ResNet-50 run medians of 96-135 ms between processes,
    and 1.5 s windows of 86-132 ms within one); the samples of one round then say nothing
    about the next, and only the rounds' own spread does. Two rounds that disagree give a
    wide interval, as they should.
    """
    from scipy.stats import t

    r = len(round_medians)
    half = float(t.ppf(0.975, r - 1)) * statistics.stdev(round_medians) / r ** 0.5
    return median - half, median + half


def pooled_stats(runs: Sequence[Sequence[float]]) -> LatencyStats:
    """Statistics over every sample of ``runs`` (each run's samples in the order taken).
    With several runs the median is the median of the round medians, each round counting
    once (a time-limited window of a fast phase holds more samples, and pooling samples
    would weight it more), and its interval covers both ``round_interval`` and the pooled
    samples' own interval, moved to that median."""
    pooled = summarize([x for run in runs for x in run])
    if len(runs) < 2:
        return pooled
    medians = [statistics.median(run) for run in runs]
    median = statistics.median(medians)
    lo, hi = round_interval(median, medians)
    lo = min(lo, median - (pooled.median - pooled.ci_low))
    hi = max(hi, median + (pooled.ci_high - pooled.median))
    # Kept within the samples' range: two rounds that disagree widely say "somewhere
    # between them", not a negative latency.
    return dataclasses.replace(pooled, median=median, ci_low=max(pooled.min, lo),
                               ci_high=min(pooled.max, hi))


def combine_rounds(results: Sequence[RunResult]) -> list[CombinedCell]:
    """Pool the ok runs of each cell (``pooled_stats``), in first-seen order; cells with no
    ok run are left out."""
    cells: dict[tuple[str, str, int, str, str], list[RunResult]] = {}
    for r in results:
        if r.status is Status.OK and r.measurement is not None:
            cells.setdefault(r.spec.cell, []).append(r)
    combined = []
    for runs in cells.values():
        samples = [r.measurement.samples for r in runs if r.measurement]
        medians = tuple(r.measurement.stats.median for r in runs if r.measurement)
        combined.append(CombinedCell(runs[0].spec, len(runs), pooled_stats(samples), medians))
    return combined
