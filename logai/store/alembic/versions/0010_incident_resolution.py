"""Incidents say why they resolved: quiet for a while, or every verdict in them corrected to normal.

Revision ID: 0010
"""

from __future__ import annotations

import sqlalchemy as sa

from logai.store.alembic.if_missing import add_column_if_missing

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    add_column_if_missing("incidents", sa.Column("resolution", sa.String(256), nullable=True))
