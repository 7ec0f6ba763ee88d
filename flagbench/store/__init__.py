"""The results store: any SQLAlchemy database, SQLite by default."""

from flagbench.store.store import Store, StoredRun

__all__ = ["Store", "StoredRun"]
