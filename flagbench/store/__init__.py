"""The results store: any SQLAlchemy database, SQLite by default."""

from flagbench.store.store import RunQuery, Store, StoredRun

__all__ = ["RunQuery", "Store", "StoredRun"]
