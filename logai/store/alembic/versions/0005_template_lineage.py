"""Template lineage: a template that generalised into another records the one that stands for it now.

Revision ID: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    # a store created at this revision already has the column (0001 creates the current tables)
    if "merged_into" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("templates")}:
        op.add_column("templates", sa.Column("merged_into", sa.String(32), nullable=True))
