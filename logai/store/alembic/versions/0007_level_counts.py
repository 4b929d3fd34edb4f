"""Events per level, kept with every write: the overview's counts without a scan of the events.

Revision ID: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    # a store created at this revision already has the table, empty like its events (0001 creates the current
    # tables); an older store gets it counted from its events, once
    if "level_counts" in sa.inspect(op.get_bind()).get_table_names():
        return
    op.create_table("level_counts", sa.Column("level", sa.String(16), primary_key=True),
                    sa.Column("count", sa.BigInteger, nullable=False))
    op.execute("INSERT INTO level_counts (level, count) "
               "SELECT substr(coalesce(level, ''), 1, 16), count(*) FROM events GROUP BY 1")
