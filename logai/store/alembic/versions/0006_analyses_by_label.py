"""Verdicts by label: the overview counts abnormal verdicts and the verdicts page lists them newest first.

Revision ID: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    # a store created at this revision already has the index (0001 creates the current tables)
    if "ix_analyses_label" not in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("analyses")}:
        op.create_index("ix_analyses_label", "analyses", ["label", "id"])
