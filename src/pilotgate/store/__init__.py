"""The store: SQLAlchemy tables, the engine (SQLite WAL default, PostgreSQL by URL), migrations."""

from pilotgate.store.engine import Store, create_store_engine, default_url, open_store
from pilotgate.store.migrations_runner import current_revision, head_revision, upgrade

__all__ = [
    "Store",
    "create_store_engine",
    "current_revision",
    "default_url",
    "head_revision",
    "open_store",
    "upgrade",
]
