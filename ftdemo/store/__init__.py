"""The database: datasets, examples, append-only annotations, training runs and model versions
(SQLAlchemy 2, Alembic migrations). Queries take the caller's session and never commit."""

from ftdemo.store.session import Database

__all__ = ["Database"]
