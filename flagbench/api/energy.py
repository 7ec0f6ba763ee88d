"""The energy-meter contract and its reading: source, scope and confidence with every figure.

A meter is injectable: vendors return meters from ``meters()``, tests pass fakes. No reading
means "unavailable", never zero. Implementations live in ``flagbench.measure.energy``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

#: Confidence labels, best first.
MEASURED = "measured"  # a hardware energy counter read at the window's edges
SAMPLED = "sampled"  # power polled and integrated over the window
ESTIMATED = "estimated"  # modelled, not measured


@dataclass(frozen=True)
class EnergyReading:
    """Energy over one timed window."""

    source: str
    scope: str
    confidence: str
    joules: float
    seconds: float
    power_samples: tuple[tuple[float, float], ...] = ()
    """(seconds since window start, watts), where the source was polled."""

    def __post_init__(self) -> None:
        if self.seconds <= 0:
            raise ValueError("an energy window must have a positive length")
        if self.joules < 0:
            raise ValueError(f"negative energy from {self.source}: {self.joules}")

    @property
    def avg_watts(self) -> float:
        """Average power over the window."""
        return self.joules / self.seconds


@runtime_checkable
class EnergyMeter(Protocol):
    """Brackets the timed window: ``start`` just before it, ``stop`` just after."""

    source: str

    def start(self) -> None:
        """Take the starting reading (or start polling)."""

    def stop(self) -> EnergyReading:
        """Take the final reading and return the window's energy."""

