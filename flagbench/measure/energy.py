"""Energy meters that vendors build on: a cumulative counter read at the window's edges, and
a poller that integrates power."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from flagbench.api.energy import MEASURED, SAMPLED, EnergyReading


class CounterMeter:
    """A cumulative energy counter in joules, read at both edges (NVML total energy, RAPL)."""

    def __init__(self, read_joules: Callable[[], float], source: str, scope: str,
                 wrap_joules: float | None = None) -> None:
        self.source = source
        self._read = read_joules
        self._scope = scope
        self._wrap = wrap_joules
        self._start = (0.0, 0.0)

    def start(self) -> None:
        """Read the counter and the clock."""
        self._start = (self._read(), time.perf_counter())

    def stop(self) -> EnergyReading:
        """Difference of the counter, corrected for one wrap-around where the range is known."""
        end_j, end_t = self._read(), time.perf_counter()
        joules = end_j - self._start[0]
        if joules < 0 and self._wrap:
            joules += self._wrap
        return EnergyReading(self.source, self._scope, MEASURED, joules, end_t - self._start[1])


class PowerPoller:
    """Polls instantaneous power in a background thread and integrates it (trapezoids).

    The thread sleeps between reads, so it costs one cheap call per interval and never
    spins; 50 ms resolves the power changes of a batch while staying out of the way.
    """

    def __init__(self, read_watts: Callable[[], float], source: str, scope: str,
                 interval_s: float = 0.05) -> None:
        self.source = source
        self._read = read_watts
        self._scope = scope
        self._interval = interval_s
        self._samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    def _poll(self) -> None:
        while not self._stop.wait(self._interval):
            self._samples.append((time.perf_counter() - self._t0, self._read()))

    def start(self) -> None:
        """Take a first sample and start the polling thread."""
        self._samples = []
        self._stop.clear()
        self._t0 = time.perf_counter()
        self._samples.append((0.0, self._read()))
        self._thread = threading.Thread(target=self._poll, name="flagbench-power", daemon=True)
        self._thread.start()

    def stop(self) -> EnergyReading:
        """Stop polling, take a last sample, integrate."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._samples.append((time.perf_counter() - self._t0, self._read()))
        s = self._samples
        pairs = zip(s, s[1:], strict=False)
        joules = sum((t1 - t0) * (w0 + w1) / 2 for (t0, w0), (t1, w1) in pairs)
        return EnergyReading(self.source, self._scope, SAMPLED, joules, s[-1][0], tuple(s))
