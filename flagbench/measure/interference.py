"""What else used the CPUs during a timed window: the hypervisor (steal time) and other
processes. On a shared machine these, not the code under test, often decide whether two runs
agree, so each run records them and warns when they were large enough to matter."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

from flagbench.api.measurement import Interference


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
