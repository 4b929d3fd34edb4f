"""Template lineage: a template that generalised into another records the one that stands for it now.

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa

from logai.store.alembic.if_missing import add_column_if_missing

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    add_column_if_missing("templates", sa.Column("merged_into", sa.String(32), nullable=True))
