"""Small real stand-ins shared by tests: sessions whose cost is known exactly."""

from __future__ import annotations

import time
from typing import Any

from flagbench.contracts import ActualRun


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
