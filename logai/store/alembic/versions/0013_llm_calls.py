"""LLM calls are counted per day in the store: the daily budgets hold across processes and restarts.

Revision ID: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"


def upgrade() -> None:
    if "llm_calls" in sa.inspect(op.get_bind()).get_table_names():  # a store created at this revision (0001)
        return
    op.create_table("llm_calls", sa.Column("day", sa.Integer, primary_key=True),
                    sa.Column("use", sa.String(16), primary_key=True),
                    sa.Column("count", sa.BigInteger, nullable=False))
