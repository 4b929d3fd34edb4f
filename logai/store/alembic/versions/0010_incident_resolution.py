"""Incidents say why they resolved: quiet for a while, or every verdict in them corrected to normal.

Revision ID: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"


def upgrade() -> None:
    # a store created at this revision already has the column (0001 creates the current tables)
    if "resolution" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("incidents")}:
        op.add_column("incidents", sa.Column("resolution", sa.String(256), nullable=True))
