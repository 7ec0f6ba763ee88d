"""Bring a database to the current schema with alembic, refusing ones that are not ours."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect

from flagbench.errors import FlagbenchError

if TYPE_CHECKING:
    from alembic.config import Config

_SCRIPTS = Path(__file__).parent / "migrations"


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


def upgrade(engine: Engine, label: str) -> None:
    """Create or upgrade the schema in place; refuse foreign or newer databases untouched."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(_config())
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        current = MigrationContext.configure(conn).get_current_revision()
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
    if current == scripts.get_current_head():
        return
    cfg = _config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
