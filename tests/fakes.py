"""Small real stand-ins shared by tests: sessions whose cost is known exactly."""

from __future__ import annotations

import time
from typing import Any

from flagbench.api.contracts import ActualRun


class BusySession:
    """Spins for a fixed time per run: a case whose true cost is known."""

    def __init__(self, seconds: float, jitter: list[float] | None = None) -> None:
        self.seconds = seconds
        self.jitter = jitter or [0.0]
        self.calls = 0
        self.syncs = 0
        self.actual = ActualRun(device="cpu", precision="fp32")

    def load(self, inputs: Any) -> Any:
        return inputs

    def run(self, loaded: Any) -> None:
        extra = self.jitter[self.calls % len(self.jitter)]
        self.calls += 1
        end = time.perf_counter() + self.seconds + extra
        while time.perf_counter() < end:
            pass

    def synchronize(self) -> None:
        self.syncs += 1

    def to_numpy(self, outputs: Any) -> list[Any]:
        return []

    def close(self) -> None:
        pass


class SimClock:
    """Simulated monotonic time, in seconds: it moves only when a session or a wait moves it,
    so a timed window on it gives exact figures however busy the machine is."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def wait_until(self, deadline: float) -> None:
        """The server scenario's wait for an arrival: time jumps to it."""
        self.now = max(self.now, deadline)


class SimSession(BusySession):
    """Takes exactly ``seconds`` of simulated time per run: a case whose cost is known exactly."""

    def __init__(self, clock: SimClock, seconds: float) -> None:
        super().__init__(seconds)
        self.clock = clock

    def run(self, loaded: Any) -> None:
        self.calls += 1
        self.clock.now += self.seconds
