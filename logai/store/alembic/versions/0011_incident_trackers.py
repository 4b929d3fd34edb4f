"""Incidents say which process tracks them, and when it last said so: `serve` and the `daemon` workers share a
store, and each must take back at start only its own incidents and the orphans of a process that stopped.

Revision ID: 0011
"""

from __future__ import annotations

import sqlalchemy as sa

from logai.store.alembic.if_missing import add_column_if_missing

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    add_column_if_missing("incidents", sa.Column("tracker", sa.String(128), nullable=True))
    add_column_if_missing("incidents", sa.Column("tracker_seen", sa.Float, nullable=True))
