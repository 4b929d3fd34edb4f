"""Corrections say which path gave the verdict they correct (the LLM, the small model, ...): every process
re-estimates the LLM's accuracy from the store's corrections, not only the one that took them, and after a
restart too.

Revision ID: 0012
"""

from __future__ import annotations

import sqlalchemy as sa

from logai.store.alembic.if_missing import add_column_if_missing

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    add_column_if_missing("feedback", sa.Column("verdict_path", sa.String(16), nullable=True))
