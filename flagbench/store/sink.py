"""Store or spool: each result goes to the database in one transaction, or, when the database
cannot take it, to the spool, so that a measured run is never lost."""

from __future__ import annotations

from flagbench.api.result import RunResult
from flagbench.api.sink import Written
from flagbench.store import spool
from flagbench.store.engine import StoreError
from flagbench.store.record import record_of
from flagbench.store.store import Store


class StoreSink:
    """A ``ResultSink`` over an open Store, spooling what it cannot write."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def put(self, result: RunResult) -> Written:
        """Write ``result``; spool it when the write fails (the error says why)."""
        record = record_of(result)
        try:
            return Written(self._store.write(record))
        except KeyboardInterrupt:
            # Ctrl-C while writing (or waiting to retry): the transaction is rolled back;
            # keep the result (a replay of one that did commit adds nothing, same uid).
            spool.put(record, self._store.label, "interrupted while writing")
            raise
        except StoreError as exc:
            path = spool.put(record, self._store.label, str(exc))
            return Written(None, str(path), str(exc))
