"""Verdicts by label: the overview counts abnormal verdicts and the verdicts page lists them newest first.

Revision ID: 0006
"""

from __future__ import annotations

from logai.store.alembic.if_missing import create_index_if_missing

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    create_index_if_missing("ix_analyses_label", "analyses", ["label", "id"])
