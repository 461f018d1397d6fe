"""The results store (SQLAlchemy 2.0; SQLite by default, any SQLAlchemy URL accepted)."""

from bench.store._schema import SCHEMA_VERSION
from bench.store._store import TABLES, Store, normalize_url

__all__ = ["SCHEMA_VERSION", "TABLES", "Store", "normalize_url"]
