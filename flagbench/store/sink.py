"""Store or spool: each result goes to the database in one transaction, or, when the database
cannot take it, to the spool, so that a measured run is never lost. When the spool cannot
take it either (a full disk), the record goes to a last resort the caller gives (the CLI
prints it on stderr as the spool file it would have been)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flagbench.api.result import RunResult
from flagbench.api.sink import Written
from flagbench.store import spool
from flagbench.store.engine import StoreError
from flagbench.store.record import RunRecord, record_of
from flagbench.store.store import Store

log = logging.getLogger(__name__)

#: (the spool file's would-be name, its content, why it is not in the spool): keeps a record
#: somewhere outside the spool and returns where.
LastResort = Callable[[str, str, str], str]


class StoreSink:
    """A ``ResultSink`` over an open Store, spooling what it cannot write; what the spool
    cannot take goes to ``last_resort`` (without one, the spool's OSError is raised)."""

    def __init__(self, store: Store, last_resort: LastResort | None = None) -> None:
        self._store = store
        self._last_resort = last_resort

    def put(self, result: RunResult) -> Written:
        """Write ``result``; spool it when the write fails (the error says why)."""
        record = record_of(result)
        try:
            return Written(self._store.write(record))
        except KeyboardInterrupt:
            # Ctrl-C while writing (or waiting to retry): the transaction is rolled back;
            # keep the result (a replay of one that did commit adds nothing, same uid).
            self._keep(record, "interrupted while writing")
            raise
        except StoreError as exc:
            error = str(exc)
        except Exception as exc:  # a measured run is kept whatever the write's failure
            log.debug("writing %s failed", record.label, exc_info=True)
            error = f"{type(exc).__name__}: {exc}".splitlines()[0]
        return Written(None, self._keep(record, error), error)

    def _keep(self, record: RunRecord, error: str) -> str:
        try:
            return str(spool.put(record, self._store.label, error))
        except OSError as exc:
            if self._last_resort is None:
                raise
            why = f"{exc.strerror or exc}: {exc.filename or spool.spool_dir()}"
            return self._last_resort(spool.file_name(record),
                                     spool.body_text(record, self._store.label, error), why)
