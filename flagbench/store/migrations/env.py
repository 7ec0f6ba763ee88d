"""Alembic environment: flagbench passes an open connection; no alembic.ini is used."""

from __future__ import annotations

from alembic import context

from flagbench.store.schema import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
