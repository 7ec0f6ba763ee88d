"""What else used the CPUs during a timed window: the hypervisor (steal time) and other
processes. On a shared machine these, not the code under test, often decide whether two runs
agree, so each run records them and warns when they were large enough to matter."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

STEAL_WARN = 0.02
"""Steal above this share of the CPUs' time is worth a warning: it is time the measured code
waited for a CPU the hypervisor gave to someone else."""
OTHER_WARN_CPUS = 0.25
"""Other processes busy for more than a quarter of one CPU over the window are worth a
warning: a second job that size competes for cores, caches and memory bandwidth."""


class CpuSnapshot(NamedTuple):
    """System-wide and own CPU seconds at one instant."""

    at: float
    """Monotonic clock, seconds."""
    busy: float
    """All CPUs' non-idle seconds, steal excluded."""
    steal: float
    total: float
    """All CPUs' seconds, steal included."""
    own: float
    """This process's user + system seconds (all its threads)."""


@dataclass(frozen=True)
class Interference:
    """CPU use during the window that was not the measured process's own."""

    window_s: float
    cpus: int
    steal_fraction: float | None
    """The hypervisor's steal as a share of all CPUs' time; None where the OS does not say."""
    other_cpus: float
    """Other processes' CPU use, in CPUs' worth averaged over the window (0.5 = half a CPU)."""
    own_cpus: float
    """The measured process's own CPU use, in CPUs' worth."""

    def warnings(self) -> list[str]:
        """Plain-language warnings when the window was shared enough to move the figures."""
        out = []
        if self.steal_fraction is not None and self.steal_fraction > STEAL_WARN:
            out.append(f"the hypervisor took {self.steal_fraction:.1%} of the CPUs' time "
                       "(steal) during the timed window")
        if self.other_cpus > OTHER_WARN_CPUS:
            out.append(f"other processes used {self.other_cpus:.2f} of {self.cpus} CPUs "
                       "during the timed window")
        return out

    def as_dict(self) -> dict[str, Any]:
        """For the run's environment record."""
        return {"window_s": self.window_s, "cpus": self.cpus,
                "steal_fraction": self.steal_fraction, "other_cpus": self.other_cpus,
                "own_cpus": self.own_cpus, "method": "psutil.cpu_times() system-wide minus "
                "psutil.Process().cpu_times(), read at the window's edges"}


def snapshot() -> CpuSnapshot:
    """Read the system's and this process's CPU times now."""
    import psutil

    t = psutil.cpu_times()
    steal = float(getattr(t, "steal", 0.0))
    idle = float(t.idle) + float(getattr(t, "iowait", 0.0))
    # guest and guest_nice are already counted in user and nice on Linux.
    fields = [f for f in t._fields if f not in ("guest", "guest_nice")]
    total = sum(float(getattr(t, f)) for f in fields)
    own = psutil.Process().cpu_times()
    return CpuSnapshot(time.monotonic(), total - idle - steal, steal, total,
                       float(own.user) + float(own.system))


def between(start: CpuSnapshot, end: CpuSnapshot, cpus: int,
            has_steal: bool = True) -> Interference:
    """The interference between two snapshots of one window."""
    window = max(end.at - start.at, 1e-9)
    total = end.total - start.total
    busy = end.busy - start.busy
    own = end.own - start.own
    steal = (end.steal - start.steal) / total if has_steal and total > 0 else None
    # Clock ticks (10 ms) make short windows coarse; never report negative use.
    return Interference(window, cpus, steal, max(0.0, busy - own) / window,
                        max(0.0, own) / window)


class InterferenceProbe:
    """Snapshots at a window's start and end; ``read`` is injectable for tests."""

    def __init__(self, read: Callable[[], CpuSnapshot] = snapshot,
                 cpus: int | None = None) -> None:
        import os

        import psutil

        self._read = read
        self._cpus = cpus or psutil.cpu_count() or os.cpu_count() or 1
        self._has_steal = hasattr(psutil.cpu_times(), "steal")
        self._start: CpuSnapshot | None = None

    def start(self) -> None:
        """Call just before the timed window."""
        self._start = self._read()

    def stop(self) -> Interference:
        """Call just after it."""
        if self._start is None:
            raise RuntimeError("InterferenceProbe.stop() before start()")
        return between(self._start, self._read(), self._cpus, self._has_steal)
