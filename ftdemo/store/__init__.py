"""Durable storage of datasets, examples and annotations (SQLAlchemy 2.x, Alembic migrations)."""

from ftdemo.store.session import Database

__all__ = ["Database"]
