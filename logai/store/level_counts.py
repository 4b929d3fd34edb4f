"""Events stored per level, kept beside the events: what `/v1/stats` and the console's overview read.

Counting the events table grows with the store (a full scan: 340 ms at 1M events for the levels alone), so each
write adds its rows' levels and each retention delete takes its rows' off, in the same transaction as the rows.
An event without a level is counted under ''.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from logai.store import schema


def add(conn: Connection, levels: Sequence[str | None]) -> None:
    """Count newly inserted events of these levels."""
    counted = Counter((level or "")[:16] for level in levels)
    if not counted:
        return
    c = schema.level_counts
    stmt = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(c)
    upsert = stmt.on_conflict_do_update(index_elements=[c.c.level], set_={"count": c.c.count + stmt.excluded.count})
    conn.execute(upsert, [{"level": level, "count": n} for level, n in counted.items()])


def remove_up_to(conn: Connection, last_id: int) -> None:
    """Uncount the events with ids up to `last_id`, before they are deleted."""
    e, c = schema.events, schema.level_counts
    level = func.coalesce(e.c.level, "")
    for name, n in conn.execute(select(level, func.count()).where(e.c.id <= last_id).group_by(level)).all():
        conn.execute(c.update().where(c.c.level == name[:16]).values(count=c.c.count - n))


def read(conn: Connection) -> dict[str, int]:
    """Level -> events stored; events without a level under 'None', as a GROUP BY over the events says it."""
    c = schema.level_counts
    return {level or "None": int(n) for level, n in conn.execute(select(c.c.level, c.c.count)).all() if n > 0}
