"""Time series and the live tail the console shows, read from the store's indexed tables.

`timeline` counts events per step from the per-bucket template counts (no scan of events), errors from the
events of the range through the ts index, anomalies through theirs, and abnormal verdicts through their
events' (a verdict is drawn at its event's time). `events_after` is the live tail: the
events stored after a given id (ids only grow), filtered like a search.
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import and_, case, func, literal, select

from logai.events import ERROR_LEVELS
from logai.store import schema
from logai.store.store import EventStore, escape_like, replaced_templates


def latest_bucket(store: EventStore) -> float | None:
    """Start of the newest per-bucket count: where "now" is for data stamped with its own event times. Read
    from the templates' `last_seen` (one row per template), which the counts are bucketed from in the same
    transaction: the max over the counts table scanned all of it (374k rows for 1M events over a day)."""
    with store.engine.connect() as conn:
        value = conn.execute(select(func.max(schema.templates.c.last_seen))).scalar()
    return float(int(value // store.bucket_seconds) * store.bucket_seconds) if value is not None else None


def timeline(store: EventStore, start: float, end: float, step: int, source: str | None = None
             ) -> list[dict[str, Any]]:
    """Per `step` seconds from `start` to `end`: events, error-level events, detector anomalies and abnormal
    verdicts (of `source`)."""
    step = max(int(step), store.bucket_seconds)
    first = int(start // step) * step
    if (end - first) / step > 2000:
        raise ValueError("at most 2,000 steps: widen the step or narrow the range")
    out: dict[int, dict[str, Any]] = {t: {"t": t, "events": 0, "errors": 0, "anomalies": 0, "abnormal": 0}
                                      for t in range(first, int(end), step)}
    c, e, a, v = schema.template_counts, schema.events, schema.anomalies, schema.analyses
    counts = (c.c.bucket // literal(step)) * literal(step)
    in_counts = and_(c.c.bucket >= first, c.c.bucket < end)
    in_events = and_(e.c.ts >= first, e.c.ts < end)  # errors, and abnormal verdicts at their events' time
    in_anomalies = and_(a.c.ts >= first, a.c.ts < end)
    if source is not None:
        t = schema.templates
        in_counts = and_(in_counts, c.c.template_id.in_(select(t.c.template_id).where(t.c.source == source)))
        in_events, in_anomalies = and_(in_events, e.c.source == source), and_(in_anomalies, a.c.source == source)
    event_step, found = func.floor(e.c.ts / step) * step, func.floor(a.c.ts / step) * step
    series = {  # each a (step start, count) per step
        "events": select(counts, func.sum(c.c.count)).where(in_counts).group_by(counts),
        "errors": select(event_step, func.count()).where(in_events, e.c.level.in_(sorted(ERROR_LEVELS)))
                  .group_by(event_step),
        "anomalies": select(found, func.count()).where(in_anomalies).group_by(found),
        "abnormal": select(event_step, func.count()).select_from(e.join(v, v.c.event_id == e.c.id))
                    .where(in_events, v.c.label == "abnormal").group_by(event_step),
    }
    with store.engine.connect() as conn:
        for name, query in series.items():
            for at, n in conn.execute(query):
                if int(at) in out:
                    out[int(at)][name] = int(n)
    return list(out.values())


def events_after(store: EventStore, after_id: int, up_to: int, *, source: str | None = None,
                 level: str | None = None, q: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Events with ids in (`after_id`, `up_to`], oldest first, filtered: what a live tail shows next."""
    e = schema.events
    stmt = select(e.c.id, e.c.ts, e.c.source, e.c.level, e.c.template_id, e.c.content).where(
        and_(e.c.id > after_id, e.c.id <= up_to))
    if source:
        stmt = stmt.where(e.c.source == source)
    if level:
        stmt = stmt.where(e.c.level == level.upper())
    if q:
        stmt = stmt.where(e.c.content.ilike(f"%{escape_like(q)}%", escape="\\"))
    with store.engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt.order_by(e.c.id).limit(limit))]


def last_event_id(store: EventStore) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.max(schema.events.c.id))).scalar() or 0)


def template_series(store: EventStore, template_ids: list[str], start: float, end: float
                    ) -> dict[str, list[dict[str, int]]]:
    """Per template, its counts per store bucket in [start, end): the sparklines of a template list, in one
    query instead of one per template."""
    c = schema.template_counts
    out: dict[str, list[dict[str, int]]] = {tid: [] for tid in template_ids}
    stmt = (select(c.c.template_id, c.c.bucket, c.c.count)
            .where(and_(c.c.template_id.in_(template_ids), c.c.bucket >= start, c.c.bucket < end))
            .order_by(c.c.template_id, c.c.bucket))
    with store.engine.connect() as conn:
        for template_id, bucket, count in conn.execute(stmt):
            out[template_id].append({"bucket": int(bucket), "count": int(count)})
    return out


def template_changes(store: EventStore, window_s: float, *, source: str | None = None, limit: int = 100
                     ) -> list[dict[str, Any]]:
    """Templates seen in the last two windows (ending at the newest stored count), with their counts in the last
    window and the one before, and the ratio: what changed recently, most changed first. A template first seen
    in the last window is `new`."""
    newest = latest_bucket(store)
    if newest is None:
        return []
    end = newest + store.bucket_seconds
    t, c = schema.templates, schema.template_counts
    recent = func.sum(case((c.c.bucket >= end - window_s, c.c.count), else_=0))
    before = func.sum(case((c.c.bucket < end - window_s, c.c.count), else_=0))
    stmt = (select(c.c.template_id, recent.label("recent"), before.label("before"))
            .where(and_(c.c.bucket >= end - 2 * window_s, c.c.bucket < end)).group_by(c.c.template_id))
    if source:
        stmt = stmt.where(c.c.template_id.in_(select(t.c.template_id).where(t.c.source == source)))
    with store.engine.connect() as conn:
        found = conn.execute(stmt).all()
        replaced = replaced_templates(conn, [r.template_id for r in found])
        counts: dict[str, tuple[int, int]] = {}
        for r in found:  # a replaced template's lines count under the one that stands now
            key = replaced.get(r.template_id, r.template_id)
            recent_n, before_n = counts.get(key, (0, 0))
            counts[key] = (recent_n + int(r.recent), before_n + int(r.before))
        rows: dict[str, dict[str, Any]] = {r.template_id: {str(k): v for k, v in r._mapping.items()}
                                           for r in conn.execute(select(t).where(
                                               t.c.template_id.in_([*counts, *replaced])))} if counts else {}
    first_seen = {key: row["first_seen"] for key, row in rows.items()}
    for old, key in replaced.items():  # a lineage is seen since its first template
        if old in rows and key in rows:
            first_seen[key] = min(first_seen[key], rows[old]["first_seen"])
    out = []
    for template_id, (now, then) in counts.items():
        row = rows.get(template_id)
        if row is None:
            continue
        new = first_seen[template_id] >= end - window_s
        out.append({**row, "recent": now, "before": then, "new": new, "change": round((now + 1) / (then + 1), 3)})
    out.sort(key=lambda r: -abs(math.log(r["change"])))
    return out[:limit]


def sources(store: EventStore) -> list[dict[str, Any]]:
    """Each source with its templates, events, last event time and dead letters."""
    t, d = schema.templates, schema.dead_letters
    with store.engine.connect() as conn:
        found = {row.source: {"source": row.source, "templates": int(row.templates), "events": int(row.events),
                              "last_seen": row.last_seen, "dead_letters": 0}
                 for row in conn.execute(select(t.c.source,
                                                func.sum(case((t.c.merged_into.is_(None), 1), else_=0))
                                                .label("templates"),
                                                func.sum(t.c.count).label("events"),
                                                func.max(t.c.last_seen).label("last_seen")).group_by(t.c.source))}
        for source, n in conn.execute(select(d.c.source, func.count()).group_by(d.c.source)):
            found.setdefault(source, {"source": source, "templates": 0, "events": 0, "last_seen": None,
                                      "dead_letters": 0})["dead_letters"] = int(n)
    return sorted(found.values(), key=lambda s: -s["events"])
