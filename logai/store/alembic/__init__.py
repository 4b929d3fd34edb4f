"""Alembic's migration environment for the store (see `logai.store.migrations`)."""
