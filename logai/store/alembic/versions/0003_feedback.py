"""Operators' corrections of verdicts (audited: who, when, old and new label; undoable).

Revision ID: 0003
"""

from __future__ import annotations

from alembic import op

from logai.store import schema

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    schema.feedback.create(op.get_bind(), checkfirst=True)
