"""Incidents and their alert delivery log, in the event store's database.

`IncidentStore` is the only code that reads or writes those two tables: the incident tracker saves what it
grouped, the API lists and acknowledges, and each receiver's sender takes its due deliveries from here, so a
delivery survives a restart and is retried until sent or dead-lettered.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, case, or_, select

from logai.store import schema
from logai.store.store import EventStore, replaced_templates

OPEN_STATES = ("open", "acknowledged")
_TRACKING = ("tracker", "tracker_seen")  # written by the tracking process only (`save(..., tracker)`, `renew`)
_FIELDS = tuple(column.name for column in schema.incidents.columns if column.name not in ("id", *_TRACKING))


def _plain(row: Any) -> dict[str, Any]:
    """A row as a dict with plain `str` keys (SQLAlchemy's are a str subclass orjson refuses)."""
    return {str(key): value for key, value in row.items()}


def _with_lineage(conn: Any, incidents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each incident's templates as they stand now: a template that generalised since the incident saw it
    counts under the one that replaced it (a stream's first line of an event has a template of its own)."""
    merged = replaced_templates(conn, [tid for incident in incidents for tid in incident.get("templates") or {}])
    if not merged:
        return incidents
    for incident in incidents:
        folded: dict[str, dict[str, Any]] = {}
        entries = sorted(incident["templates"].items(), key=lambda item: item[0] in merged)  # current ones first
        for tid, entry in entries:
            target = merged.get(tid, tid)
            if target in folded:
                folded[target]["count"] += entry["count"]
            else:
                folded[target] = dict(entry)  # a copy: the count above adds to it, not to the row read
        incident["templates"] = folded
    return incidents


class IncidentStore:
    def __init__(self, store: EventStore):
        self.engine, self.writer = store.engine, store.writer_engine

    # -- incidents ------------------------------------------------------------------------------------------
    def save(self, incident: dict[str, Any], tracker: str | None = None) -> int:
        """Insert (no `id`) or update an incident; returns its id. `tracker`: the process tracking it, which
        renews its lease by saving (other writers leave the tracking columns as they are). An acknowledgement
        stored by another process (the console's `logai serve`, for an incident a `logai daemon` tracks) is
        kept: an update that still says `open` without one leaves it acknowledged, in the same statement,
        until the tracker adopts it."""
        values: dict[str, Any] = {key: incident.get(key) for key in _FIELDS}
        if tracker is not None:
            values |= {"tracker": tracker, "tracker_seen": time.time()}
        table = schema.incidents
        with self.writer.begin() as conn:
            if incident.get("id") is None:
                return schema.inserted_id(conn.execute(table.insert().values(**values)))
            if values["state"] == "open":
                values["state"] = case((table.c.state == "acknowledged", "acknowledged"), else_="open")
            for field in ("acked_at", "acked_by"):
                if values[field] is None:
                    values[field] = getattr(table.c, field)
            conn.execute(table.update().where(table.c.id == incident["id"]).values(**values))
            return int(incident["id"])

    def get(self, incident_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(schema.incidents).where(schema.incidents.c.id == incident_id)).mappings().first()
            return _with_lineage(conn, [_plain(row)])[0] if row else None

    def find(self, state: str | None = None, source: str | None = None, limit: int = 100,
             before_id: int | None = None) -> list[dict[str, Any]]:
        """Newest first; `state` is open, acknowledged, resolved or `active` (open or acknowledged)."""
        table = schema.incidents
        stmt = select(table).order_by(table.c.id.desc()).limit(limit)
        if state == "active":
            stmt = stmt.where(table.c.state.in_(OPEN_STATES))
        elif state is not None:
            stmt = stmt.where(table.c.state == state)
        if source is not None:
            stmt = stmt.where(table.c.source == source)
        if before_id is not None:
            stmt = stmt.where(table.c.id < before_id)
        with self.engine.connect() as conn:
            return _with_lineage(conn, [_plain(row) for row in conn.execute(stmt).mappings()])

    def adopt(self, tracker: str, now: float, lease_s: float, released: bool, dead: Sequence[str] = ()
              ) -> list[dict[str, Any]]:
        """Take over, for the process `tracker`, the open or acknowledged incidents no live process tracks: those
        whose tracker has not renewed its lease for `lease_s` or is known `dead`, those from before trackers
        were kept, and with `released` (a process starting) those a process let go as it stopped. Each is taken
        by a compare-and-set, so two processes never both take one. Returns the rows taken."""
        table = schema.incidents
        orphan = or_(table.c.tracker_seen.is_(None), table.c.tracker_seen < now - lease_s,
                     table.c.tracker.in_(list(dead)))
        if released:
            orphan = or_(orphan, table.c.tracker.is_(None))
        with self.engine.connect() as conn:
            found = [_plain(row) for row in conn.execute(select(table).where(
                table.c.state.in_(OPEN_STATES), orphan).order_by(table.c.id)).mappings()]
        taken = []
        with self.writer.begin() as conn:
            for row in found:
                if conn.execute(table.update().where(table.c.id == row["id"], table.c.state.in_(OPEN_STATES), orphan)
                                .values(tracker=tracker, tracker_seen=now)).rowcount == 1:
                    taken.append(row)
        return taken

    def trackers(self) -> list[str]:
        """The processes that track open or acknowledged incidents."""
        table = schema.incidents
        with self.engine.connect() as conn:
            return list(conn.execute(select(table.c.tracker).distinct().where(
                table.c.state.in_(OPEN_STATES), table.c.tracker.is_not(None))).scalars())

    def renew(self, tracker: str, now: float) -> None:
        """The tracker `tracker` is alive: its incidents stay its own (see `adopt`)."""
        self._update_tracked(tracker, {"tracker_seen": now})

    def release(self, tracker: str, now: float) -> None:
        """The tracker `tracker` stops: the next process to start takes its incidents back at once."""
        self._update_tracked(tracker, {"tracker": None, "tracker_seen": now})

    def _update_tracked(self, tracker: str, values: dict[str, Any]) -> None:
        """Set `values` on the open or acknowledged incidents `tracker` tracks."""
        table = schema.incidents
        with self.writer.begin() as conn:
            conn.execute(table.update().where(table.c.tracker == tracker, table.c.state.in_(OPEN_STATES))
                         .values(values))

    def acks(self, incident_ids: list[int]) -> dict[int, tuple[float | None, str | None]]:
        """Of `incident_ids`, those stored as acknowledged: id -> (acked_at, acked_by). A light read (no samples)
        that a tracker makes every second."""
        table = schema.incidents
        with self.engine.connect() as conn:
            rows = conn.execute(select(table.c.id, table.c.acked_at, table.c.acked_by)
                                .where(table.c.id.in_(incident_ids), table.c.state == "acknowledged"))
            return {int(row.id): (row.acked_at, row.acked_by) for row in rows}

    # -- deliveries -----------------------------------------------------------------------------------------
    def enqueue(self, incident_id: int, receivers: list[str], kind: str, not_before: float | None = None) -> None:
        now = time.time()
        if receivers:
            with self.writer.begin() as conn:
                conn.execute(schema.alert_deliveries.insert(), [
                    {"incident_id": incident_id, "receiver": receiver, "kind": kind, "state": "pending", "attempts": 0,
                     "next_at": not_before or now, "created_at": now} for receiver in receivers])

    def hasten(self, incident_id: int, receiver: str) -> None:
        """Make the incident's pending deliveries to `receiver` due now (its LLM summary is ready); one being
        sent or retried is left as it is."""
        d = schema.alert_deliveries
        with self.writer.begin() as conn:
            conn.execute(d.update().where(and_(d.c.incident_id == incident_id, d.c.receiver == receiver,
                                               d.c.state == "pending", d.c.attempts == 0)).values(next_at=time.time()))

    def due(self, receiver: str, now: float, limit: int = 50) -> list[dict[str, Any]]:
        """`receiver`'s pending deliveries in the order they were made, up to the first that is not due for
        its incident: an incident's notifications never overtake each other."""
        d = schema.alert_deliveries
        stmt = (select(d).where(and_(d.c.receiver == receiver, d.c.state == "pending")).order_by(d.c.id)
                .limit(limit * 4))
        with self.engine.connect() as conn:
            rows = [_plain(row) for row in conn.execute(stmt).mappings()]
        waiting: set[int] = set()
        out = []
        for row in rows:
            if row["incident_id"] in waiting:
                continue
            if row["next_at"] > now:
                waiting.add(row["incident_id"])
                continue
            out.append(row)
        return out[:limit]

    def claim(self, delivery: dict[str, Any], until: float) -> bool:
        """Take `delivery` (a row from `due`) for sending, as no other process may until `until`: every
        `serve` and `daemon` on the store runs senders for the same receivers, and without a claim each would
        send it. A compare-and-set on the row as read, counting the attempt (so `hasten` leaves it alone);
        False when another process took it first. A process that dies mid-send leaves the claim to expire, and
        the delivery is retried then."""
        d = schema.alert_deliveries
        with self.writer.begin() as conn:
            return bool(conn.execute(d.update().where(and_(
                d.c.id == delivery["id"], d.c.state == "pending", d.c.attempts == delivery["attempts"],
                d.c.next_at == delivery["next_at"])).values(next_at=until, attempts=d.c.attempts + 1)).rowcount == 1)

    def delivered(self, delivery_id: int, payload: Any, status_code: int) -> None:
        """A claimed delivery was sent (its attempt was counted by `claim`)."""
        self._update(delivery_id, state="sent", sent_at=time.time(), payload=payload, status_code=status_code)

    def failed(self, delivery_id: int, attempts: int, error: str, next_at: float | None, payload: Any,
               status_code: int | None) -> None:
        """A failed attempt: retried at `next_at`, or a dead letter when that is None."""
        self._update(delivery_id, state="pending" if next_at is not None else "dead", attempts=attempts,
                     next_at=next_at or time.time(), last_error=error[:2000], payload=payload, status_code=status_code)

    def deliveries(self, incident_id: int | None = None, state: str | None = None, limit: int = 200
                   ) -> list[dict[str, Any]]:
        d = schema.alert_deliveries
        stmt = select(d).order_by(d.c.id.desc()).limit(limit)
        if incident_id is not None:
            stmt = stmt.where(d.c.incident_id == incident_id)
        if state is not None:
            stmt = stmt.where(d.c.state == state)
        with self.engine.connect() as conn:
            return [_plain(row) for row in conn.execute(stmt).mappings()]

    def _update(self, delivery_id: int, **values: Any) -> None:
        d = schema.alert_deliveries
        with self.writer.begin() as conn:
            conn.execute(d.update().where(d.c.id == delivery_id).values(**values))
