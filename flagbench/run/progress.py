"""How a run says what it is doing (build, reference, prepare, warmup, measure, fidelity …),
and the clock its start and finish are stamped with: shared by the runner and executors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

#: (phase, detail), e.g. ("prepare", "preparing on ort-cpu"); the CLI shows the detail.
Phase = Callable[[str, str], None]


def no_phase(_phase: str, _detail: str) -> None:
    """The default phase callback: report nothing."""


def utc_now() -> datetime:
    """Now, in UTC, for a run's start and finish."""
    return datetime.now(timezone.utc)
