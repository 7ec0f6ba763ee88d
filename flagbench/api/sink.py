"""Where a matrix's results go: the contract between the matrix loop (run/) and the store that
keeps them (store/sink.py), so the loop decides nothing about databases or spools."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flagbench.api.result import RunResult


@dataclass(frozen=True)
class Written:
    """What became of one result: stored under ``run_id``, or kept aside (``spooled_to``)
    because the store could not take it, with the store's ``error``."""

    run_id: int | None
    spooled_to: str = ""
    error: str = ""

    def __post_init__(self) -> None:
        if self.run_id is None and not (self.spooled_to and self.error):
            raise ValueError("a result that was not stored must say where it went and why")


class ResultSink(Protocol):
    """Keeps each result as it arrives; a result it cannot store it keeps aside, never drops."""

    def put(self, result: RunResult) -> Written:
        """Keep ``result``; raise only for Ctrl-C (after keeping it aside)."""
