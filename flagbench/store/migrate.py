"""Bring a database to the current schema with alembic, refusing ones that are not ours."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text

from flagbench.api.errors import FlagbenchError

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

_SCRIPTS = Path(__file__).parent / "migrations"
#: Key of the PostgreSQL advisory lock that serialises migrations ("flagbench" in ASCII, cut).
_MIGRATION_LOCK = 0x666C616762656E63


def _config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPTS))
    return cfg


def head_revision() -> str:
    """The newest schema revision this flagbench knows."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def _state(conn: Connection) -> tuple[set[str], str | None]:
    from alembic.runtime.migration import MigrationContext

    tables = set(inspect(conn).get_table_names())
    return tables, MigrationContext.configure(conn).get_current_revision()


def _is_current(label: str, tables: set[str], current: str | None,
                scripts: ScriptDirectory) -> bool:
    """True when at head; a FlagbenchError for a foreign or newer database."""
    if current is None and tables - {"alembic_version"}:
        raise FlagbenchError(
            f"{label} holds tables but is not a flagbench database; choose another --db"
        )
    if current is not None:
        try:
            scripts.get_revision(current)
        except Exception:
            raise FlagbenchError(
                f"{label} was written by a newer flagbench (schema {current}); upgrade flagbench"
            ) from None
    return current == scripts.get_current_head()


def check_readable(engine: Engine, label: str) -> None:
    """For a command that only reads: the database must be flagbench's at the current schema.
    Nothing is created or migrated; an empty, foreign, older or newer one is one line."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_config())
    with engine.connect() as conn:
        tables, current = _state(conn)
        if current is None and not tables - {"alembic_version"}:
            raise FlagbenchError(f"{label} holds no flagbench results yet; it needs "
                                 "`flagbench run` first")
        if not _is_current(label, tables, current, scripts):
            raise FlagbenchError(
                f"{label} has an older flagbench schema ({current}); a command that writes "
                "(`flagbench run`, `flagbench spool --replay`) upgrades it first")


def upgrade(engine: Engine, label: str) -> None:
    """Create or upgrade the schema in place; refuse foreign or newer databases untouched.

    Several processes may open a new database at once (a fleet starting, parallel runs): the
    migration runs in one transaction under a lock (SQLite's write lock, a PostgreSQL
    advisory lock) and looks at the schema again once it holds it, so only one of them
    migrates and the others find the schema at head.
    """
    from alembic import command
    from alembic.script import ScriptDirectory

    from flagbench.store.engine import WRITE

    scripts = ScriptDirectory.from_config(_config())
    with engine.connect() as conn:  # the usual case, at head: no lock taken
        if _is_current(label, *_state(conn), scripts):
            return
    cfg = _config()
    with engine.execution_options(**WRITE).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK})
        if _is_current(label, *_state(conn), scripts):
            return
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
