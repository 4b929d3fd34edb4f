"""Templates by the one that replaced them: every listed template counts the lines of those it replaced.

Revision ID: 0009
"""

from __future__ import annotations

from logai.store.alembic.if_missing import create_index_if_missing

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    create_index_if_missing("ix_templates_merged_into", "templates", ["merged_into"])
