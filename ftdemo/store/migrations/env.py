"""Alembic environment: always run with a connection passed in `config.attributes` (see migrate.py)."""

from alembic import context

from ftdemo.store.schema import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through ftdemo.store.migrate.upgrade(), which passes a connection")

# render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
