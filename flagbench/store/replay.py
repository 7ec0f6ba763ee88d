"""Writing spooled runs to a database: those spooled for it (or all, when asked), each in its
own transaction, removing each file once its run is stored. Idempotent by the run's uid.
Files that failed the spool's check are in quarantine already and are never written."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from flagbench.store.engine import StoreError
from flagbench.store.spool import SpoolEntry
from flagbench.store.store import Store


@dataclass(frozen=True)
class Replayed:
    """One spool entry after a replay: written as ``run_id``, or kept, and why."""

    entry: SpoolEntry
    run_id: int | None = None
    kept_because: str = ""
    elsewhere: bool = False
    """Kept because it was spooled for another database."""


def replay(store: Store, entries: Iterable[SpoolEntry], all_targets: bool = False
           ) -> Iterator[Replayed]:
    """Write each entry meant for ``store`` (every readable one with ``all_targets``)."""
    for e in entries:
        if e.record is None:
            yield Replayed(e, kept_because=e.error)
            continue
        if e.target != store.label and not all_targets:
            yield Replayed(e, kept_because=f"spooled for {e.target} (replay with that --db, or "
                           "add --all to write it here)", elsewhere=True)
            continue
        try:
            run_id = store.write(e.record)
        except StoreError as exc:
            yield Replayed(e, kept_because=str(exc))
            continue
        e.path.unlink(missing_ok=True)
        yield Replayed(e, run_id)
