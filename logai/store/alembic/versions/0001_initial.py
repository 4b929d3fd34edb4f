"""Every table of the first schema (events, templates, parameters, anomalies, analyses, dead letters, meta).

Revision ID: 0001
"""

from __future__ import annotations

from alembic import op

from logai.store import schema

revision = "0001"
down_revision = None


def upgrade() -> None:
    # the tables of later revisions are created here too on a new store; their revisions then find them
    schema.metadata.create_all(op.get_bind(), checkfirst=True)
