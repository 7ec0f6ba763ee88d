"""What share of a device's peak a run reached (MFU, bandwidth utilisation), and whose peak.

Two sources, each stated with every figure: the peak the vendor declared for the run (stored
with it at run time: ``peak_flops``, ``mfu`` …), and flagbench's own measured peak, the best
run of a peak-probe case (``gemm`` for FLOP/s, ``membw`` for bytes/s: any case declaring
``peak_probe``) on the same host, vendor and precision in the store. The measured share is
computed when asked, from the runs given, so it follows the store as new probe runs land.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flagbench.api.hosts import host_key

if TYPE_CHECKING:
    from flagbench.store import StoredRun

#: Peak kind -> the achieved metric it divides, and its unit.
ACHIEVED = {"flops": ("achieved_flops", "FLOP/s"), "bytes": ("achieved_bytes_per_s", "B/s")}
_DECLARED = {"flops": "flops_per_s", "bytes": "bytes_per_s"}


@dataclass(frozen=True)
class PeakShare:
    """A run's achieved rate as a share of one peak, and where that peak comes from."""

    kind: str
    """``flops`` or ``bytes``."""
    achieved: float
    peak: float
    origin: str
    """``declared`` (by the vendor) or ``measured`` (best probe run in the store)."""
    source: str

    @property
    def share(self) -> float:
        """achieved / peak (MFU for FLOP/s)."""
        return self.achieved / self.peak


def format_rate(value: float, kind: str) -> str:
    """A rate with an SI prefix: ``1.23 TFLOP/s``, ``9.87 GB/s``."""
    unit = ACHIEVED[kind][1]
    for factor, prefix in ((1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def measured_peak(runs: Sequence[StoredRun], host: str, vendor: str, precision: str,
                  kind: str, exclude: int | None = None) -> StoredRun | None:
    """The best ok peak-probe run of ``kind`` on this host × vendor × precision, if any."""
    metric = ACHIEVED[kind][0]
    candidates = [
        r for r in runs
        if r.status == "ok" and r.id != exclude and r.vendor == vendor
        and r.precision == precision and r.environment.get("peak_probe") == kind
        and r.metric(metric) and host_key(r.host_facts) == host
    ]
    return max(candidates, key=lambda r: r.metric(metric) or 0.0, default=None)


def _probe_label(run: StoredRun) -> str:
    options = ",".join(f"{k}={v}" for k, v in run.spec.get("options") or [])
    return f"{run.case}[{options}] bs{run.batch_size}" if options else (
        f"{run.case} bs{run.batch_size}")


def peak_shares(run: StoredRun, store_runs: Sequence[StoredRun]) -> list[PeakShare]:
    """Every known peak for the run's achieved FLOP/s and B/s: declared, then measured."""
    out: list[PeakShare] = []
    declared = run.environment.get("peak") or {}
    host = host_key(run.host_facts)
    for kind, (metric, _) in ACHIEVED.items():
        achieved = run.metric(metric)
        if not achieved:
            continue
        peak = declared.get(_DECLARED[kind])
        if peak:
            out.append(PeakShare(kind, achieved, float(peak), "declared",
                                 f"declared by {run.vendor}: {declared.get('source', '?')}"))
        best = measured_peak(store_runs, host, run.vendor, run.precision, kind, exclude=run.id)
        if best is not None:
            value = best.metric(metric)
            assert value is not None
            out.append(PeakShare(kind, achieved, value, "measured",
                                 f"measured: best {_probe_label(best)} run (#{best.id}) on this "
                                 f"host, {run.vendor}, {run.precision}"))
    return out
