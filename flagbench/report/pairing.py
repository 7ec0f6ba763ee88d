"""Pairing two selections of stored runs by cell for ``flagbench compare``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from flagbench.report.selection import cell_key, clock_mismatch
from flagbench.stats.comparisons import Comparison, compare_runs
from flagbench.store import StoredRun


@dataclass(frozen=True)
class PairedCell:
    """One matrix cell in both selections of ``flagbench compare``, pooled per side."""

    label: str
    a_ids: tuple[int, ...]
    b_ids: tuple[int, ...]
    comparison: Comparison | None
    note: str = ""
    """Why there is no comparison (a side lacks the cell, or has no ok run)."""

    def regressed(self, fail_above_pct: float) -> bool:
        """B is significantly slower than A by more than the given percentage."""
        c = self.comparison
        return (c is not None and c.significant and c.ratio > 1.0
                and (c.ratio - 1.0) * 100.0 > fail_above_pct)


def compare_sets(a_runs: Sequence[StoredRun], b_runs: Sequence[StoredRun],
                 samples_for: Callable[[Sequence[int]], Mapping[int, Sequence[float]]],
                 match_hosts: bool = True, match_vendors: bool = True) -> list[PairedCell]:
    """Pair the runs of two selections by cell and compare each pair's pooled latencies.

    Runs pair by host × vendor × cell; a side chosen by host (or vendor) ignores that part.
    Two selections of one run each are compared directly, whatever their cells.
    """
    if len(a_runs) == 1 and len(b_runs) == 1:
        a, b = a_runs[0], b_runs[0]
        groups = {f"run {a.id} → run {b.id}": ([a], [b])}
    else:
        groups = _group(a_runs, b_runs, match_hosts, match_vendors)
    ok_ids = [r.id for side in groups.values() for runs in side for r in runs if r.status == "ok"]
    samples = samples_for(ok_ids)
    out = []
    for label, (a_side, b_side) in sorted(groups.items()):
        a_ids = tuple(r.id for r in a_side)
        b_ids = tuple(r.id for r in b_side)
        note = (_missing(a_side, "A") or _missing(b_side, "B")
                or clock_mismatch(a_side, b_side))
        comparison = None
        if not note:
            pa = [samples[r.id] for r in a_side if r.status == "ok"]
            pb = [samples[r.id] for r in b_side if r.status == "ok"]
            if sum(map(len, pa)) < 2 or sum(map(len, pb)) < 2:
                note = "fewer than two samples on a side"
            else:
                comparison = compare_runs(pa, pb)
        out.append(PairedCell(label, a_ids, b_ids, comparison, note))
    return out


def _group(a_runs: Sequence[StoredRun], b_runs: Sequence[StoredRun], match_hosts: bool,
           match_vendors: bool) -> dict[str, tuple[list[StoredRun], list[StoredRun]]]:
    groups: dict[str, tuple[list[StoredRun], list[StoredRun]]] = {}
    for side, runs in ((0, a_runs), (1, b_runs)):
        for r in runs:
            parts = (([r.hostname] if match_hosts else [])
                     + ([r.vendor_label] if match_vendors else []))
            label = " · ".join([*parts, cell_key(r).label])
            groups.setdefault(label, ([], []))[side].append(r)
    return groups


def _missing(runs: Sequence[StoredRun], side: str) -> str:
    if not runs:
        return f"not in {side}"
    if not any(r.status == "ok" for r in runs):
        reasons = sorted({f"{r.status}: {r.reason}" for r in runs})
        return f"no ok run in {side} ({'; '.join(reasons)})"
    return ""
