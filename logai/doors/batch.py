"""What a door made of one delivery, and how it reaches the service: records to ingest, plus those it could
not map, kept as dead letters one by one. Every door (OTLP, Loki push, syslog) delivers through here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from logai.doors.bodies import check_count
from logai.events import Record

if TYPE_CHECKING:
    from logai.service import IngestService


class Rejected(NamedTuple):
    """A record the door could not map, kept as a dead letter."""

    source: str
    raw: bytes
    why: str
    key: str | None = None  # its ingest key, where the door had already given it one


@dataclass
class DoorBatch:
    records: list[Record] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    def deliver(self, service: IngestService, *, format_name: str, door: str, max_records: int | None = None
                ) -> list[str]:
        """Dead-letter the rejected records, then mine and store the rest (blocking: call it off the event loop).
        Returns why each refused record was refused: the door's rejects, then those the service dead-lettered.
        More than `max_records` in all is refused whole (BodyTooLarge), before anything is stored."""
        if max_records is not None:
            check_count(len(self.records) + len(self.rejected), max_records)
        for source, raw, why, key in self.rejected:
            service.reject(source, raw, door, why, key)
        refused = [rejected.why for rejected in self.rejected]
        if self.records:
            result = service.ingest_records(self.records, format_name=format_name, door=door)
            refused += [why for _, why in result.failed]
        return refused
