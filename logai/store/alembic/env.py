"""Alembic environment: migrations run on the connection `logai.store.migrations.migrate` hands over, inside
its transaction (no engine of their own, no alembic.ini)."""

from __future__ import annotations

from alembic import context

from logai.store import schema

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=schema.metadata)
with context.begin_transaction():
    context.run_migrations()
