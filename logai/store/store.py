"""`EventStore`: idempotent batch writes and the queries behind the REST API.

Every event is written under an ingest key (`source|partition|offset` from Kafka, `source|request|line`
from HTTP); a key already stored is skipped, so replaying a batch after a crash counts nothing twice.
Template totals and per-bucket counts are updated in the same transaction as the events they count.
SQLite (WAL mode) is the embedded default; any SQLAlchemy URL works, PostgreSQL is tested.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Engine, Table, create_engine, event, func, literal, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from logai.events import Event, Param
from logai.store import level_counts, schema
from logai.store.migrations import migrate
from logai.store.rows import (
    ANALYSIS_COLUMNS,
    EVENT_COLUMNS,
    KEY,
    LEVEL,
    PARAM_COLUMNS,
    SOURCE,
    TEMPLATE,
    TEMPLATE_ID,
    TS,
    PreparedBatch,
    analysis_row,
    prepare,
)

MAX_ID = 2**63 - 1  # ids and offsets are 64-bit signed in every store
_CHUNK = 500  # keys per IN (...) query: well under SQLite's bound-parameter limit


@dataclass(frozen=True)
class WriteResult:
    inserted: int
    duplicates: int
    event_ids: dict[int, int] = field(default_factory=dict, compare=False)  # batch index -> id, inserted now
    # the batch's verdicts (`PreparedBatch.analyses`) in order: their ids, None where the event was a duplicate
    analysis_ids: list[int | None] = field(default_factory=list, compare=False)


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
    fields: tuple[tuple[str, str], ...] = ()  # (name, value): events whose field `name` equals `value`


def parse_cursor(cursor: str) -> tuple[float, int]:
    """A page cursor is `<ts>,<id>` of the last event of the previous page; ValueError when it is not."""
    ts, _, event_id = cursor.partition(",")
    try:
        when, number = float(ts), int(event_id)
    except ValueError:
        number = -1
    if number < 0 or number > MAX_ID or not math.isfinite(when):  # 64-bit ids: larger ones overflow the driver
        raise ValueError(f"invalid cursor {cursor!r}: pass next_cursor from the previous page")
    return when, number


def escape_like(text: str) -> str:
    """`text` matched literally inside LIKE: `%` and `_` are not wildcards (`q=%` matched every event)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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
            event.listen(self.engine, "begin", _sqlite_begin)
        # writes take SQLite's write lock when they begin, so ids reserved from max(id) stay theirs
        self._writer: Engine = self.engine.execution_options(logai_write=True)
        self.writer_engine = self._writer  # for the stores that share this database (`store.incidents`)
        self.schema_version = self._migrate()

    def _migrate(self, attempts: int = 3) -> int:
        """Run migrations; on SQLite two processes creating the tables at once can collide, and the one
        that loses simply finds the schema in place on its next try."""
        for attempt in range(attempts):
            try:
                with self._writer.begin() as conn:
                    return migrate(conn)
            except OperationalError:
                if attempt == attempts - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")

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
    def write(self, batch: Sequence[tuple[str, Event]] | PreparedBatch) -> WriteResult:
        """Store (ingest key, event) pairs, or a batch `rows.prepare` made of them; keys already stored, or
        repeated in the batch, are skipped."""
        prepared = batch if isinstance(batch, PreparedBatch) else prepare(batch)
        if not prepared.rows:
            return WriteResult(0, 0)
        with self._writer.begin() as conn:
            _serialise_writers(conn)
            e = schema.events
            stored: set[str] = set()
            for part in _chunks([row[KEY] for row in prepared.rows]):
                stored.update(conn.execute(select(e.c.ingest_key).where(e.c.ingest_key.in_(part))).scalars())
            fresh: list[int] = []  # indices of rows to insert
            for index, row in enumerate(prepared.rows):
                if row[KEY] not in stored:
                    stored.add(row[KEY])
                    fresh.append(index)
            if not fresh:
                _record_merges(conn, prepared.merges)
                return WriteResult(0, len(prepared), analysis_ids=[None] * len(prepared.analyses))
            # ids are reserved up front, so parameter rows need no lookup of the events just inserted
            ids = dict(zip(fresh, _reserve_ids(conn, len(fresh)), strict=True))
            rows = [(ids[index], *prepared.rows[index]) for index in fresh]
            _bulk_insert(conn, e, ("id", *EVENT_COLUMNS), rows)
            params = [(ids[p[0]], *p[1:]) for p in prepared.params if p[0] in ids]
            if params:
                _bulk_insert(conn, schema.event_params, PARAM_COLUMNS, params)
            self._count_templates(conn, rows)
            level_counts.add(conn, [row[1 + LEVEL] for row in rows])
            _record_merges(conn, prepared.merges)
            analysis_ids = _insert_analyses(conn, prepared.analyses, ids)
        return WriteResult(len(fresh), len(prepared) - len(fresh), ids, analysis_ids)

    def _count_templates(self, conn, rows: list[tuple]) -> None:
        """Add inserted rows (with their id in front) to template totals and per-bucket counts."""
        totals: dict[str, dict[str, Any]] = {}
        buckets: dict[tuple[str, int], int] = {}
        for row in rows:
            template_id, when = row[1 + TEMPLATE_ID], row[1 + TS]
            if template_id is None:
                continue
            total = totals.get(template_id)
            if total is None:
                totals[template_id] = {"template_id": template_id, "source": row[1 + SOURCE],
                                       "template": row[1 + TEMPLATE] or "", "count": 1,
                                       "first_seen": when, "last_seen": when}
            else:
                total["count"] += 1
                total["first_seen"] = min(total["first_seen"], when)
                total["last_seen"] = max(total["last_seen"], when)
            bucket = int(when // self.bucket_seconds) * self.bucket_seconds
            buckets[(template_id, bucket)] = buckets.get((template_id, bucket), 0) + 1
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

    def claim_request(self, request_id: str, body_sha256: str) -> bool:
        """Record that client request `request_id` carries content `body_sha256`; False when the id was
        already used with other content (the caller answers 409). A replay of the same content is True."""
        r = schema.requests
        with self._writer.begin() as conn:
            _serialise_writers(conn)
            known = conn.execute(select(r.c.body_sha256).where(r.c.request_id == request_id)).scalar()
            if known is None:
                conn.execute(r.insert().values(request_id=request_id, body_sha256=body_sha256,
                                               created_at=time.time()))
                return True
            return bool(known == body_sha256)

    def dead_letter(self, source: str, raw: bytes, error: str, ingest_key: str | None = None) -> None:
        """Keep a record that could not be processed, with its bytes and the reason."""
        with self._writer.begin() as conn:
            conn.execute(schema.dead_letters.insert().values(
                source=source, ingest_key=ingest_key, raw=raw, error=error[:4000], created_at=time.time()))

    def add_anomalies(self, anomalies: Sequence[Any]) -> None:
        """Store `Anomaly` records (ts, source, detector, score, threshold, evidence) in one transaction."""
        now = time.time()
        with self._writer.begin() as conn:
            conn.execute(schema.anomalies.insert(), [
                {"ts": a.ts, "source": a.source, "detector": a.detector, "score": a.score, "threshold": a.threshold,
                 "evidence": a.evidence, "created_at": now} for a in anomalies])

    def add_anomaly(self, ts: float, source: str, detector: str, score: float, threshold: float | None,
                    evidence: dict[str, Any]) -> int:
        with self._writer.begin() as conn:
            return schema.inserted_id(conn.execute(schema.anomalies.insert().values(
                ts=ts, source=source, detector=detector, score=score, threshold=threshold, evidence=evidence,
                created_at=time.time())))

    def add_analyses(self, rows: Sequence[dict[str, Any]]) -> list[int]:
        """Store verdicts: dicts with task, label, model, confidence, provenance and optional event_id. Ids are
        reserved up front and the rows go in one executemany of tuples: a verdict per ingested event must not
        cost a round trip (or SQLAlchemy's per-row parameter processing) each."""
        if not rows:
            return []
        now = time.time()
        with self._writer.begin() as conn:
            return _insert_analysis_rows(conn, [(row.get("event_id"), *analysis_row(row, now)) for row in rows])

    def update_analysis(self, analysis_id: int, label: str, model: str, confidence: float | None,
                        provenance: dict[str, Any]) -> None:
        """Replace a stored verdict (the LLM's review of what the small model was unsure of)."""
        a = schema.analyses
        with self._writer.begin() as conn:
            conn.execute(a.update().where(a.c.id == analysis_id).values(
                label=label[:128], model=model[:128], confidence=confidence, provenance=provenance))

    def add_feedback(self, row: dict[str, Any]) -> int:
        """Record an operator's correction: task, source, input, log, template_id, old_label, new_label,
        verdict_path, reason, who. Returns its id."""
        with self._writer.begin() as conn:
            return schema.inserted_id(conn.execute(schema.feedback.insert().values(
                **{k: row.get(k) for k in ("task", "source", "input", "log", "template_id", "old_label",
                                           "verdict_path")},
                new_label=row["new_label"][:128], reason=row.get("reason") or "", who=(row.get("who") or "")[:128],
                created_at=time.time())))

    def undo_feedback(self, feedback_id: int, who: str = "") -> dict[str, Any] | None:
        """Mark a correction undone (kept for the audit); None when there is no such active correction."""
        f = schema.feedback
        with self._writer.begin() as conn:
            done = conn.execute(f.update().where(f.c.id == feedback_id, f.c.undone_at.is_(None))
                                .values(undone_at=time.time(), undone_by=who[:128])).rowcount
            row = conn.execute(select(f).where(f.c.id == feedback_id)).first()
        return dict(row._mapping) if done and row is not None else None

    def feedback(self, task: str | None = None, active: bool | None = None, limit: int | None = None
                 ) -> list[dict[str, Any]]:
        """Corrections, oldest first (`active`: only those not undone; False: only the undone ones)."""
        f = schema.feedback
        stmt = select(f).order_by(f.c.id)
        if task is not None:
            stmt = stmt.where(f.c.task == task)
        if active is not None:
            stmt = stmt.where(f.c.undone_at.is_(None) if active else f.c.undone_at.is_not(None))
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def feedback_revision(self) -> tuple[int, int]:
        """(last correction id, corrections undone): changes whenever any process adds or undoes one, so a
        process polls this one-row query to learn of corrections taken by another (`FeedbackLearner.sync`)."""
        f = schema.feedback
        with self.engine.connect() as conn:
            last, undone = conn.execute(select(func.max(f.c.id), func.count(f.c.undone_at))).one()
        return int(last or 0), int(undone)

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
            stmt = stmt.where(e.c.content.ilike(f"%{escape_like(query.q)}%", escape="\\"))
        if query.concept or query.value:
            p = schema.event_params
            sub = select(p.c.event_id)
            if query.concept:
                sub = sub.where(p.c.concept == query.concept)
            if query.value:
                sub = sub.where(p.c.value == query.value)
            stmt = stmt.where(e.c.id.in_(sub))
        for name, value in query.fields:  # JSON_EXTRACT on SQLite, ->> on PostgreSQL; narrowed by the filters above
            stmt = stmt.where(e.c.fields[name].as_string() == value)
        if query.cursor is not None:
            cursor_ts, cursor_id = parse_cursor(query.cursor)
            stmt = stmt.where(tuple_(e.c.ts, e.c.id) < tuple_(literal(cursor_ts), literal(cursor_id)))
        stmt = stmt.order_by(e.c.ts.desc(), e.c.id.desc()).limit(query.limit + 1)
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(stmt)]
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        return rows, (f"{rows[-1]['ts']!r},{rows[-1]['id']}" if more and rows else None)

    def iter_events(self, source: str | None = None, chunk: int = 5000) -> Iterator[Event]:
        """Every stored event (of `source`), oldest first, as `Event`s: for training detectors from the store."""
        e = schema.events
        last = (float("-inf"), 0)
        while True:
            stmt = select(e.c.id, e.c.source, e.c.line, e.c.ts, e.c.level, e.c.template_id, e.c.template,
                          e.c.content, e.c.params).where(tuple_(e.c.ts, e.c.id) > tuple_(literal(last[0]),
                                                                                         literal(last[1])))
            if source:
                stmt = stmt.where(e.c.source == source)
            with self.engine.connect() as conn:
                rows = conn.execute(stmt.order_by(e.c.ts, e.c.id).limit(chunk)).all()
            for row in rows:
                params = row.params if isinstance(row.params, list) else orjson.loads(row.params or "[]")
                yield Event(raw="", source=row.source, line=row.line, level=row.level,
                            timestamp=datetime.fromtimestamp(row.ts, UTC).isoformat(), content=row.content,
                            template_id=row.template_id, template=row.template,
                            params=[Param(**p) for p in params])
            if len(rows) < chunk:
                return
            last = (rows[-1].ts, rows[-1].id)

    def templates(self, source: str | None = None, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        """Templates by count, as they stand now: one that generalised into another is not listed, and its
        lines count under the one that replaced it."""
        t, old = schema.templates, schema.templates.alias("old")
        folded = (select(func.coalesce(func.sum(old.c.count), 0)).where(old.c.merged_into == t.c.template_id)
                  .scalar_subquery())
        count = (t.c.count + folded).label("count")
        stmt = (select(t.c.template_id, t.c.source, t.c.template, count, t.c.first_seen, t.c.last_seen,
                       t.c.merged_into)
                .where(t.c.merged_into.is_(None)).order_by(count.desc(), t.c.template_id).limit(limit).offset(offset))
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

    def analyses(self, task: str | None = None, label: str | None = None, event_id: int | None = None,
                 limit: int = 100) -> list[dict[str, Any]]:
        """Stored verdicts, newest first."""
        a = schema.analyses
        stmt = select(a).order_by(a.c.id.desc()).limit(limit)
        for column, value in ((a.c.task, task), (a.c.label, label), (a.c.event_id, event_id)):
            if value is not None:
                stmt = stmt.where(column == value)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def analysis(self, analysis_id: int) -> dict[str, Any] | None:
        a = schema.analyses
        with self.engine.connect() as conn:
            row = conn.execute(select(a).where(a.c.id == analysis_id)).first()
        return dict(row._mapping) if row is not None else None

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        d = schema.dead_letters
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(d).order_by(d.c.id.desc()).limit(limit))]

    def stats(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            def count(table) -> int:
                return int(conn.execute(select(func.count()).select_from(table)).scalar() or 0)

            levels = level_counts.read(conn)
            live = schema.templates.select().where(schema.templates.c.merged_into.is_(None)).subquery()
            return {"events": sum(levels.values()), "templates": count(live),
                    "anomalies": count(schema.anomalies), "analyses": count(schema.analyses),
                    "abnormal_verdicts": count(select(schema.analyses.c.id).where(
                        schema.analyses.c.label == "abnormal").subquery()),
                    "dead_letters": count(schema.dead_letters),
                    "events_by_level": levels}

    # -- retention -----------------------------------------------------------------------------------------
    def apply_retention(self, max_age_seconds: float | None = None, max_events: int | None = None) -> int:
        """Delete events older than `max_age_seconds` (by ingest time) and beyond the newest `max_events`, with
        their verdicts, and the template counts of the minutes before the oldest event left; by age also verdicts
        on no stored event (`/v1/analyze`), the detectors' anomalies and dead letters."""
        e = schema.events
        deleted = 0
        with self._writer.begin() as conn:
            if max_age_seconds is not None:
                oldest_kept = time.time() - max_age_seconds
                boundary = conn.execute(select(func.max(e.c.id)).where(e.c.ingested_at < oldest_kept)).scalar()
                if boundary is not None:
                    deleted += _delete_up_to(conn, boundary)
                # idempotency keys are remembered as long as the events they stored; anomalies and dead letters
                # as long as the events of their time
                for table in (schema.requests, schema.anomalies, schema.dead_letters):
                    conn.execute(table.delete().where(table.c.created_at < oldest_kept))
                a = schema.analyses
                conn.execute(a.delete().where(a.c.event_id.is_(None), a.c.created_at < oldest_kept))
            if max_events is not None:
                boundary = conn.execute(select(e.c.id).order_by(e.c.id.desc()).offset(max_events).limit(1)).scalar()
                if boundary is not None:
                    deleted += _delete_up_to(conn, boundary)
            if deleted:  # the per-minute counts of every template, before the oldest event kept (event time)
                oldest = conn.execute(select(func.min(e.c.ts))).scalar()
                c = schema.template_counts
                conn.execute(c.delete().where(c.c.bucket < oldest // self.bucket_seconds * self.bucket_seconds)
                             if oldest is not None else c.delete())
        return deleted


def _delete_up_to(conn, last_id: int) -> int:
    """Delete the events with ids up to `last_id`, their parameters and verdicts, and their place in the level
    counts (a verdict is stored for every event by default: left behind, they outgrew the events they judged)."""
    level_counts.remove_up_to(conn, last_id)
    for table in (schema.event_params, schema.analyses):
        conn.execute(table.delete().where(table.c.event_id <= last_id))
    return int(conn.execute(schema.events.delete().where(schema.events.c.id <= last_id)).rowcount)


_WRITE_LOCK = 0x6C6F6777  # "logw": PostgreSQL advisory lock that serialises event writers


def _serialise_writers(conn) -> None:
    """One event writer at a time, across threads and processes: checking which keys are stored and inserting
    the rest must not interleave, or two writers of one key collide (500s and lost lines, issue 14). SQLite's
    BEGIN IMMEDIATE (`_sqlite_begin`) already did this; PostgreSQL takes a transaction advisory lock."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_WRITE_LOCK})")


def _reserve_ids(conn, n: int, table: Table = schema.events) -> list[int]:
    """`n` ids of `table` no other writer will use: drawn from its sequence on PostgreSQL; on SQLite the
    transaction holds the write lock, so max(id) + 1 onwards is free."""
    if conn.dialect.name == "postgresql":
        drawn = conn.exec_driver_sql(f"SELECT nextval('{table.name}_id_seq') FROM generate_series(1, %s)", (n,))
        return [int(row[0]) for row in drawn]
    first = int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar()) + 1
    return list(range(first, first + n))


def replaced_templates(conn, template_ids: Iterable[str]) -> dict[str, str]:
    """Of `template_ids`, those that generalised into another, with the id that stands for each now."""
    t = schema.templates
    found: dict[str, str] = {}
    for part in _chunks(sorted(set(template_ids))):
        for template_id, merged_into in conn.execute(select(t.c.template_id, t.c.merged_into).where(
                t.c.template_id.in_(part), t.c.merged_into.is_not(None))):
            found[template_id] = merged_into
    return found


def _record_merges(conn, merges: Sequence[tuple[str, str]]) -> None:
    """Templates that generalised (old id -> new id): each old one, and every template already merged into
    it, now points at what stands for the new one, so a lineage is one step deep whatever its length, and a
    replayed batch (at least once) cannot point an old template back at one merged since."""
    t = schema.templates
    for old, new in merges:
        target = conn.execute(select(t.c.merged_into).where(t.c.template_id == new)).scalar() or new
        if target != old:
            conn.execute(update(t).where((t.c.template_id == old) | (t.c.merged_into == old))
                         .values(merged_into=target))


def _insert_analyses(conn, analyses: list[tuple], event_ids: dict[int, int]) -> list[int | None]:
    """Verdict rows (batch index, *ANALYSIS_COLUMNS[1:]) of the events inserted now (`event_ids`); the ids
    they were given, in order, None for the verdict of a duplicate (judged when it was first stored)."""
    kept = [k for k, row in enumerate(analyses) if row[0] in event_ids]
    out: list[int | None] = [None] * len(analyses)
    ids = _insert_analysis_rows(conn, [(event_ids[analyses[k][0]], *analyses[k][1:]) for k in kept])
    for k, analysis_id in zip(kept, ids, strict=True):
        out[k] = analysis_id
    return out


def _insert_analysis_rows(conn, rows: list[tuple]) -> list[int]:
    """Verdict rows in ANALYSIS_COLUMNS order, in one executemany with ids reserved up front (SQLite: the
    transaction's BEGIN IMMEDIATE holds the write lock for max(id) + 1); their ids, in order."""
    if not rows:
        return []
    ids = _reserve_ids(conn, len(rows), schema.analyses)
    _bulk_insert(conn, schema.analyses, ("id", *ANALYSIS_COLUMNS),
                 [(analysis_id, *row) for analysis_id, row in zip(ids, rows, strict=True)])
    return ids


def _bulk_insert(conn, table, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """executemany straight to the driver with rows as tuples in `columns` order (JSON already serialised):
    SQLAlchemy's per-row parameter processing cost more than the database's own insert work."""
    marker = "%s" if conn.dialect.paramstyle in ("format", "pyformat") else "?"
    sql = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
    conn.exec_driver_sql(sql, rows)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def _sqlite_begin(conn) -> None:
    """Writers begin with BEGIN IMMEDIATE: they queue on SQLite's write lock (busy_timeout) before reading
    max(id), so two writers, threads or processes, never reserve the same ids. Readers begin deferred."""
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("logai_write") else "BEGIN")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """Transactions are begun by `_sqlite_begin`, not by the driver (isolation_level None).
    WAL: readers never block the writer; NORMAL sync is durable across process crashes in WAL mode.
    A 64 MB page cache and a 10k-page checkpoint interval keep index pages hot between batches. A writer waits
    up to a minute for its turn: a burst of concurrent batches (eight ingest threads and two processes, on a
    loaded 2-core machine) kept one waiting past the 10 s this was, and it failed where it should have queued."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()
