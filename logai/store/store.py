"""`EventStore`: idempotent batch writes and the queries behind the REST API.

Every event is written under an ingest key (`source|partition|offset` from Kafka, `source|request|line`
from HTTP); a key already stored is skipped, so replaying a batch after a crash counts nothing twice.
Template totals and per-bucket counts are updated in the same transaction as the events they count.
SQLite (WAL mode) is the embedded default; any SQLAlchemy URL works, PostgreSQL is tested.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Engine, create_engine, event, func, literal, select, text, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from logai.events import Event
from logai.store import schema
from logai.store.migrations import migrate

_CHUNK = 500  # keys per IN (...) query: well under SQLite's bound-parameter limit


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    duplicates: int


@dataclass
class EventQuery:
    start: float | None = None
    end: float | None = None
    source: str | None = None
    level: str | None = None
    template_id: str | None = None
    concept: str | None = None
    value: str | None = None
    q: str | None = None
    cursor: str | None = None  # from the previous page: return events older than it (newest first)
    limit: int = 100


def to_epoch(timestamp: str | None) -> float | None:
    """ISO 8601 to Unix seconds; a timestamp without zone is taken as UTC."""
    if not timestamp:
        return None
    try:
        parsed = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def parse_cursor(cursor: str) -> tuple[float, int]:
    """A page cursor is `<ts>,<id>` of the last event of the previous page; ValueError when it is not."""
    ts, _, event_id = cursor.partition(",")
    try:
        return float(ts), int(event_id)
    except ValueError:
        raise ValueError(f"invalid cursor {cursor!r}: pass next_cursor from the previous page") from None


def _chunks(items: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class EventStore:
    def __init__(self, url: str, bucket_seconds: int = 60):
        self.url = url
        self.bucket_seconds = bucket_seconds
        self.engine: Engine = create_engine(url, pool_pre_ping=True, json_serializer=_json_dumps)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        with self.engine.begin() as conn:
            self.schema_version = migrate(conn)

    def close(self) -> None:
        self.engine.dispose()

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    # -- writes --------------------------------------------------------------------------------------------
    def write(self, batch: Sequence[tuple[str, Event]]) -> WriteResult:
        """Store (ingest key, event) pairs; keys already stored, or repeated in the batch, are skipped."""
        if not batch:
            return WriteResult(0, 0)
        now = time.time()
        with self.engine.begin() as conn:
            keys = [key for key, _ in batch]
            stored: set[str] = set()
            for part in _chunks(keys):
                stored.update(conn.execute(
                    select(schema.events.c.ingest_key).where(schema.events.c.ingest_key.in_(part))).scalars())
            fresh: list[tuple[str, Event, float | None]] = []
            for key, ev in batch:
                if key not in stored:
                    stored.add(key)
                    ts = to_epoch(ev.timestamp)
                    fresh.append((key, ev, ts if ts is not None else now))
            if not fresh:
                return WriteResult(0, len(batch))
            rows = [{
                "ingest_key": key, "source": ev.source, "line": ev.line, "ts": ts, "ingested_at": now,
                "level": ev.level, "template_id": ev.template_id, "template": ev.template,
                "conceptualized": ev.conceptualized, "content": ev.content, "raw": ev.raw,
                "fields": _json_dumps(ev.fields), "params": _json_dumps([p.to_dict() for p in ev.params]),
                "flags": _json_dumps(ev.flags),
            } for key, ev, ts in fresh]
            # a plain executemany, then one lookup of the new ids: RETURNING would run row by row on SQLite
            _bulk_insert(conn, schema.events, rows)
            with_params = [(key, ev) for key, ev, _ in fresh if ev.params]
            ids: dict[str, int] = {}
            for part in _chunks([key for key, _ in with_params]):
                ids.update(conn.execute(select(schema.events.c.ingest_key, schema.events.c.id)
                                        .where(schema.events.c.ingest_key.in_(part))).all())
            params = [
                {"event_id": ids[key], "position": i, "value": p.value[:512], "type": p.type,
                 "concept": p.concept[:128] if p.concept else None}
                for key, ev in with_params
                for i, p in enumerate(ev.params)
            ]
            if params:
                _bulk_insert(conn, schema.event_params, params)
            self._count_templates(conn, fresh, now)
        return WriteResult(len(fresh), len(batch) - len(fresh))

    def _count_templates(self, conn, fresh: list[tuple[str, Event, float | None]], now: float) -> None:
        totals: dict[str, dict[str, Any]] = {}
        buckets: dict[tuple[str, int], int] = {}
        for _, ev, ts in fresh:
            if ev.template_id is None:
                continue
            when = ts if ts is not None else now
            row = totals.get(ev.template_id)
            if row is None:
                totals[ev.template_id] = {"template_id": ev.template_id, "source": ev.source,
                                          "template": ev.template or "", "count": 1,
                                          "first_seen": when, "last_seen": when}
            else:
                row["count"] += 1
                row["first_seen"] = min(row["first_seen"], when)
                row["last_seen"] = max(row["last_seen"], when)
            bucket = int(when // self.bucket_seconds) * self.bucket_seconds
            buckets[(ev.template_id, bucket)] = buckets.get((ev.template_id, bucket), 0) + 1
        if not totals:
            return
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        least = func.least if conn.dialect.name == "postgresql" else func.min
        greatest = func.greatest if conn.dialect.name == "postgresql" else func.max
        t = schema.templates
        stmt = dialect.insert(t)
        conn.execute(stmt.on_conflict_do_update(index_elements=[t.c.template_id], set_={
            "count": t.c.count + stmt.excluded.count,
            "first_seen": least(t.c.first_seen, stmt.excluded.first_seen),
            "last_seen": greatest(t.c.last_seen, stmt.excluded.last_seen),
        }), list(totals.values()))
        c = schema.template_counts
        stmt = dialect.insert(c)
        conn.execute(stmt.on_conflict_do_update(index_elements=[c.c.template_id, c.c.bucket], set_={
            "count": c.c.count + stmt.excluded.count}),
            [{"template_id": tid, "bucket": b, "count": n} for (tid, b), n in buckets.items()])

    def dead_letter(self, source: str, raw: bytes, error: str, ingest_key: str | None = None) -> None:
        """Keep a record that could not be processed, with its bytes and the reason."""
        with self.engine.begin() as conn:
            conn.execute(schema.dead_letters.insert().values(
                source=source, ingest_key=ingest_key, raw=raw, error=error[:4000], created_at=time.time()))

    def add_anomaly(self, ts: float, source: str, detector: str, score: float, threshold: float | None,
                    evidence: dict[str, Any]) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(schema.anomalies.insert().values(
                ts=ts, source=source, detector=detector, score=score, threshold=threshold, evidence=evidence,
                created_at=time.time())).inserted_primary_key[0])

    # -- queries -------------------------------------------------------------------------------------------
    def events(self, query: EventQuery) -> tuple[list[dict[str, Any]], str | None]:
        """Matching events, newest first by (ts, id), and the cursor of the next page (None at the end)."""
        e = schema.events
        stmt = select(e)
        if query.start is not None:
            stmt = stmt.where(e.c.ts >= query.start)
        if query.end is not None:
            stmt = stmt.where(e.c.ts < query.end)
        if query.source:
            stmt = stmt.where(e.c.source == query.source)
        if query.level:
            stmt = stmt.where(e.c.level == query.level.upper())
        if query.template_id:
            stmt = stmt.where(e.c.template_id == query.template_id)
        if query.q:
            stmt = stmt.where(e.c.content.ilike(f"%{query.q}%"))
        if query.concept or query.value:
            p = schema.event_params
            sub = select(p.c.event_id)
            if query.concept:
                sub = sub.where(p.c.concept == query.concept)
            if query.value:
                sub = sub.where(p.c.value == query.value)
            stmt = stmt.where(e.c.id.in_(sub))
        if query.cursor is not None:
            cursor_ts, cursor_id = parse_cursor(query.cursor)
            stmt = stmt.where(tuple_(e.c.ts, e.c.id) < tuple_(literal(cursor_ts), literal(cursor_id)))
        stmt = stmt.order_by(e.c.ts.desc(), e.c.id.desc()).limit(query.limit + 1)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(stmt)]
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        return rows, (f"{rows[-1]['ts']!r},{rows[-1]['id']}" if more and rows else None)

    def templates(self, source: str | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        t = schema.templates
        stmt = select(t).order_by(t.c.count.desc(), t.c.template_id).limit(limit).offset(offset)
        if source:
            stmt = stmt.where(t.c.source == source)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def template(self, template_id: str) -> dict[str, Any] | None:
        """One template with its per-bucket counts (the time series)."""
        t, c = schema.templates, schema.template_counts
        with self.engine.connect() as conn:
            row = conn.execute(select(t).where(t.c.template_id == template_id)).first()
            if row is None:
                return None
            series = conn.execute(select(c.c.bucket, c.c.count).where(c.c.template_id == template_id)
                                  .order_by(c.c.bucket)).all()
        return {**dict(row._mapping), "bucket_seconds": self.bucket_seconds,
                "series": [{"bucket": b, "count": n} for b, n in series]}

    def anomalies(self, start: float | None = None, end: float | None = None, limit: int = 100) -> list[dict]:
        a = schema.anomalies
        stmt = select(a).order_by(a.c.ts.desc()).limit(limit)
        if start is not None:
            stmt = stmt.where(a.c.ts >= start)
        if end is not None:
            stmt = stmt.where(a.c.ts < end)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        d = schema.dead_letters
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(d).order_by(d.c.id.desc()).limit(limit))]

    def stats(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            def count(table) -> int:
                return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)

            levels = dict(conn.execute(select(schema.events.c.level, func.count())
                                       .group_by(schema.events.c.level)).all())
            return {"events": count(schema.events), "templates": count(schema.templates),
                    "anomalies": count(schema.anomalies), "analyses": count(schema.analyses),
                    "dead_letters": count(schema.dead_letters),
                    "events_by_level": {str(k): v for k, v in levels.items()}}

    # -- retention -----------------------------------------------------------------------------------------
    def apply_retention(self, max_age_seconds: float | None = None, max_events: int | None = None) -> int:
        """Delete events older than `max_age_seconds` (by ingest time) and beyond the newest `max_events`."""
        e, p = schema.events, schema.event_params
        deleted = 0
        with self.engine.begin() as conn:
            if max_age_seconds is not None:
                cutoff = select(func.max(e.c.id)).where(e.c.ingested_at < time.time() - max_age_seconds)
                boundary = conn.execute(cutoff).scalar()
                if boundary is not None:
                    conn.execute(p.delete().where(p.c.event_id <= boundary))
                    deleted += conn.execute(e.delete().where(e.c.id <= boundary)).rowcount
            if max_events is not None:
                boundary = conn.execute(select(e.c.id).order_by(e.c.id.desc()).offset(max_events).limit(1)).scalar()
                if boundary is not None:
                    conn.execute(p.delete().where(p.c.event_id <= boundary))
                    deleted += conn.execute(e.delete().where(e.c.id <= boundary)).rowcount
        return deleted


def _bulk_insert(conn, table, rows: list[dict[str, Any]]) -> None:
    """executemany straight to the driver: the statement is compiled once and rows are passed as they are
    (JSON columns already serialised). SQLAlchemy's per-row parameter processing cost more than SQLite's
    own insert work on large batches."""
    compiled = table.insert().compile(dialect=conn.dialect, column_keys=list(rows[0]))
    if compiled.positional:
        order = compiled.positiontup
        conn.exec_driver_sql(str(compiled), [tuple(row[k] for k in order) for row in rows])
    else:
        conn.exec_driver_sql(str(compiled), rows)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL: readers never block the writer; NORMAL sync is durable across process crashes in WAL mode."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
