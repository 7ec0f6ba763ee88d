"""One SQLAlchemy engine per database, set up for several flagbench processes at once.

SQLite: WAL (readers never block the writer), a busy timeout, and write transactions that
take the write lock when they begin (``BEGIN IMMEDIATE``), because a deferred transaction
that reads first cannot wait for the lock later: in WAL mode it fails at once with
"database is locked". PostgreSQL (psycopg 3): a connect timeout and a ping before reusing a
pooled connection, so a restarted server is reconnected to. On every dialect, database errors
become ``StoreError``: one line, never the password, marked transient when a retry may help.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import ArgumentError, IntegrityError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import NullPool

from flagbench.api.errors import FlagbenchError
from flagbench.store.location import DatabaseLocation
from flagbench.store.record import json_dumps
from flagbench.store.redaction import redact, secrets_in

log = logging.getLogger(__name__)

#: Execution options of write transactions (``Store._writes``).
WRITE = {"flagbench_write": True}
#: How long a SQLite writer waits for another's lock before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 30_000
#: How long to wait for a PostgreSQL server to answer a connection attempt.
PG_CONNECT_TIMEOUT_S = 10
#: PostgreSQL SQLSTATEs that a retry of the whole transaction fixes.
_PG_RETRY_STATES = {"40001", "40P01", "57P01", "57P02", "57P03"}


class StoreError(FlagbenchError):
    """The database refused or failed an operation; ``transient`` when retrying may help."""

    def __init__(self, message: str, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient




def make_engine(loc: DatabaseLocation) -> Engine:
    """An engine for ``loc`` with the per-dialect set-up above; FlagbenchError if unusable."""
    from sqlalchemy.engine import make_url

    url = make_url(loc.url)
    backend = url.get_backend_name()
    secrets = secrets_in(loc.url)  # what no error message may quote
    kwargs: dict[str, Any] = {"json_serializer": json_dumps}
    if backend == "sqlite" and url.database not in (None, "", ":memory:"):
        # A connection per transaction: between runs the file is closed and its WAL folded
        # back, so a file that became unwritable is noticed at the next write instead of
        # being written through an old handle.
        kwargs["poolclass"] = NullPool
    if backend == "postgresql":
        kwargs.update(pool_pre_ping=True,
                      connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S,
                                    "application_name": "flagbench"})
    try:
        engine = create_engine(url, **kwargs)
    # ValueError, TypeError: a URL query argument the dialect cannot convert (?timeout=abc)
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError, TypeError) as exc:
        hint = " (install flagbench[postgres])" if backend == "postgresql" else ""
        detail = redact(str(exc).splitlines()[0], secrets)
        raise FlagbenchError(f"cannot use database {loc.label}: {detail}{hint}") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)

    def as_store_error(ctx: ExceptionContext) -> BaseException | None:
        if ctx.is_pre_ping or isinstance(ctx.sqlalchemy_exception, IntegrityError):
            return None  # pre-ping reconnects by itself; the store handles duplicate keys
        orig = ctx.original_exception
        detail = (str(orig).strip().splitlines() or [type(orig).__name__])[0]
        state = getattr(getattr(orig, "diag", None), "sqlstate", None) or ""
        transient = (ctx.is_disconnect or state in _PG_RETRY_STATES
                     or isinstance(ctx.sqlalchemy_exception, OperationalError))
        return StoreError(f"database {loc.label}: {redact(detail, secrets)}", transient)

    event.listen(engine, "handle_error", as_store_error)
    return engine


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event, not the driver, start transactions (SQLAlchemy's
    # documented pysqlite recipe), so writes can BEGIN IMMEDIATE and DDL is transactional.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.close()


def _sqlite_begin(conn: Any) -> None:
    write = conn.get_execution_options().get("flagbench_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def use_wal(engine: Engine) -> None:
    """Switch a SQLite database (ours, checked) to WAL; it stays so for every later open."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        # The switch needs the database to itself and can fail ("database is locked", or the
        # old mode returned) while other processes have it open: when several open a new
        # file at once, most find it switched already, and the rest try again a few times.
        for pause in (0.1, 0.3, 1.0, None):
            try:
                if cur.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal":
                    break
            except engine.dialect.loaded_dbapi.Error as exc:
                if pause is None:
                    # Not fatal: the database works in its journal mode; writers wait longer.
                    log.warning("could not switch %s to WAL: %s", engine.url.database, exc)
                    break
            if pause is not None:
                time.sleep(pause)
        cur.close()
    finally:
        raw.close()
