"""Idempotency keys of HTTP requests, tied to the sha256 of what they carried.

Revision ID: 0002
"""

from __future__ import annotations

from alembic import op

from logai.store import schema

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    schema.requests.create(op.get_bind(), checkfirst=True)
