"""Template counts by bucket: the timeline, what changed and retention read a range of buckets.

Revision ID: 0008
"""

from __future__ import annotations

from logai.store.alembic.if_missing import create_index_if_missing

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    create_index_if_missing("ix_template_counts_bucket", "template_counts", ["bucket"])
