"""What a door made of one delivery, and how it reaches the service: records to ingest, plus those it could
not map, kept as dead letters one by one. Every door (OTLP, Loki push, syslog, JSON over HTTP) delivers
through here.

A batch is counted before anything is made of it and its records are made while they are ingested, a chunk
at a time: a 10 MB body is never also held as 100,000 `Record`s."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
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
    count: int  # records and rejects that `items` will yield, known before any is made
    items: Iterable[Record | Rejected]

    def deliver(self, service: IngestService, *, format_name: str, door: str, max_records: int | None = None
                ) -> list[str]:
        """Mine and store the records, dead-letter the rejects (blocking: call it off the event loop). Returns
        why each refused record was refused: the door's rejects, then those the service dead-lettered.
        More than `max_records` in all is refused whole (BodyTooLarge), before anything is stored."""
        if max_records is not None:
            check_count(self.count, max_records)
        refused: list[str] = []

        def records() -> Iterator[Record]:
            for item in self.items:
                if isinstance(item, Rejected):
                    service.reject(item.source, item.raw, door, item.why, item.key)
                    refused.append(item.why)
                else:
                    yield item

        result = service.ingest_records(records(), format_name=format_name, door=door)
        return refused + [why for _, why in result.failed]
