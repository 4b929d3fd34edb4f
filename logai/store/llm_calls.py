"""The day's LLM calls, counted in the store: `serve` and every `daemon` on it spend one daily budget per use
(route, summary), and a restart does not start the day again."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from logai.store import schema
from logai.store.store import EventStore


class LlmCallCounter:
    def __init__(self, store: EventStore):
        self.engine, self.writer = store.engine, store.writer_engine

    def take(self, use: str, day: int, cap: int | None) -> int | None:
        """Count one call of `use` on UTC day `day` unless `cap` calls were counted that day already, by any
        process; returns the day's count with it, None when refused. One transaction: no two processes both
        take the last call."""
        t = schema.llm_calls
        with self.writer.begin() as conn:
            insert = (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(t)
            conn.execute(insert.on_conflict_do_nothing(index_elements=[t.c.day, t.c.use]),
                         {"day": day, "use": use, "count": 0})
            this_day = [t.c.day == day, t.c.use == use]
            under_cap = [t.c.count < cap] if cap is not None else []
            if conn.execute(t.update().where(*this_day, *under_cap).values(count=t.c.count + 1)).rowcount == 0:
                return None
            return int(conn.execute(select(t.c.count).where(*this_day)).scalar_one())

    def used(self, use: str, day: int) -> int:
        t = schema.llm_calls
        with self.engine.connect() as conn:
            return int(conn.execute(select(t.c.count).where(t.c.day == day, t.c.use == use)).scalar() or 0)
