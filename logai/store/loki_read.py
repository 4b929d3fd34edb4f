"""Answers the Loki read API from the event store: label names and values, log streams for a LogQL selector
with line filters, and patterns (logai's templates with their counts per step), the shapes Grafana's Loki data
source and Logs Drilldown read.

Streams are labelled `source` (also as `service_name`, which Grafana's Drilldown groups by) and `level`. A
query reads the newest (or oldest) events of the time range through the (source, ts) or ts index, a page at a
time, filtering lines as it goes, and stops at `limit` lines or after `max_scan` events.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, func, literal, select, tuple_

from logai.events import WILDCARD
from logai.store import schema
from logai.store.logql import LogQuery, Matcher, UnsupportedQuery
from logai.store.store import EventStore, replaced_templates

SOURCE_LABELS = ("source", "service_name")
LABELS = ("level", "service_name", "source")
MAX_PATTERNS = 1000
PAGE = 2000


def nanoseconds(ts: float) -> str:
    return str(round(ts * 1_000_000) * 1000)  # microseconds are what a float of Unix seconds holds exactly


class LokiReader:
    def __init__(self, store: EventStore, max_scan: int = 200_000):
        self.store = store
        self.max_scan = max_scan

    def sources(self) -> list[str]:
        with self.store.engine.connect() as conn:
            return sorted(conn.execute(select(schema.templates.c.source).distinct()).scalars())

    def label_values(self, name: str, start: float, end: float) -> list[str]:
        if name in SOURCE_LABELS:
            return self.sources()
        if name == "level":
            e = schema.events
            stmt = select(e.c.level).distinct().where(and_(e.c.ts >= start, e.c.ts < end, e.c.level.is_not(None)))
            with self.store.engine.connect() as conn:
                return sorted(conn.execute(stmt).scalars())
        return []

    def _sources(self, query: LogQuery) -> list[str] | None:
        """The sources the selector's source matchers allow (None: no source matcher)."""
        matchers = [m for m in query.matchers if m.name in SOURCE_LABELS]
        if not matchers:
            return None
        if all(m.op == "=" for m in matchers):
            values = {m.value for m in matchers}
            return list(values) if len(values) == 1 else []
        return [s for s in self.sources() if all(m.matches(s) for m in matchers)]

    @staticmethod
    def _impossible(query: LogQuery) -> bool:
        """A matcher on a label logai does not have that cannot match its absence: no stream matches."""
        return any(m.name not in LABELS and not m.matches_empty for m in query.matchers)

    def streams(self, query: LogQuery, start: float, end: float, limit: int = 100, direction: str = "backward"
                ) -> list[dict[str, Any]]:
        """`{"stream": labels, "values": [[ns, line], ...]}` of at most `limit` lines in all, newest first
        (`backward`) or oldest first (`forward`)."""
        sources = self._sources(query)
        if self._impossible(query) or sources == []:
            return []
        levels: list[Matcher] = [m for m in query.matchers if m.name == "level"]
        e = schema.events
        stmt = select(e.c.id, e.c.ts, e.c.source, e.c.level, e.c.raw).where(and_(e.c.ts >= start, e.c.ts < end))
        if sources is not None:
            stmt = stmt.where(e.c.source.in_(sources))
        equal = [m.value for m in levels if m.op == "="]
        if equal:
            stmt = stmt.where(e.c.level == equal[0])
        forward = direction == "forward"
        order = (e.c.ts.asc(), e.c.id.asc()) if forward else (e.c.ts.desc(), e.c.id.desc())
        found: dict[tuple[str, str | None], list[list[str]]] = {}
        kept, scanned, last = 0, 0, None
        with self.store.engine.connect() as conn:
            while kept < limit and scanned < self.max_scan:
                page = stmt
                if last is not None:  # row values: the index walk resumes where the last page stopped
                    key, after = tuple_(e.c.ts, e.c.id), tuple_(literal(last[0]), literal(last[1]))
                    page = page.where(key > after if forward else key < after)
                rows = conn.execute(page.order_by(*order).limit(PAGE)).all()
                for row in rows:
                    if all(m.matches(row.level) for m in levels) and query.keep(row.raw):
                        found.setdefault((row.source, row.level), []).append([nanoseconds(row.ts), row.raw])
                        kept += 1
                        if kept >= limit:
                            break
                scanned += len(rows)
                if len(rows) < PAGE:
                    break
                last = (rows[-1].ts, rows[-1].id)
        return [{"stream": {"source": source, "service_name": source, **({"level": level} if level else {})},
                 "values": values} for (source, level), values in found.items()]

    def patterns(self, query: LogQuery, start: float, end: float, step: int) -> list[dict[str, Any]]:
        """Per template of the selected sources, `{"pattern", "samples": [[seconds, count], ...]}` with counts
        summed per `step` seconds (at least the store's bucket), most frequent first."""
        if query.filters or any(m.name == "level" and not m.matches_empty for m in query.matchers):
            raise UnsupportedQuery("patterns take a stream selector on source or service_name, without line "
                                   "filters or level matchers: templates span levels")
        sources = self._sources(query)
        if self._impossible(query) or sources == []:
            return []
        step = max(int(step), self.store.bucket_seconds)
        t, c = schema.templates, schema.template_counts
        bucket = (c.c.bucket // literal(step)) * literal(step)  # floor division in SQL (SQLAlchemy 2)
        first = int(start // self.store.bucket_seconds) * self.store.bucket_seconds
        stmt = (select(c.c.template_id, bucket.label("b"), func.sum(c.c.count).label("n"))
                .where(and_(c.c.bucket >= first, c.c.bucket < end))
                .group_by(c.c.template_id, bucket))
        if sources is not None:
            stmt = stmt.where(c.c.template_id.in_(select(t.c.template_id).where(t.c.source.in_(sources))))
        series: dict[str, dict[int, int]] = {}
        with self.store.engine.connect() as conn:
            found = conn.execute(stmt).all()
            replaced = replaced_templates(conn, [template_id for template_id, _, _ in found])
            for template_id, at, count in found:  # a replaced template's lines count under its replacement
                steps = series.setdefault(replaced.get(template_id, template_id), {})
                steps[int(at)] = steps.get(int(at), 0) + int(count)
            top = sorted(series, key=lambda tid: -sum(series[tid].values()))[:MAX_PATTERNS]
            texts = dict(conn.execute(select(t.c.template_id, t.c.template).where(t.c.template_id.in_(top))).all())
        return [{"pattern": (texts.get(tid) or "").replace(WILDCARD, "<_>"),
                 "samples": sorted([at, n] for at, n in series[tid].items())} for tid in top]
