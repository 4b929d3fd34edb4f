"""`IngestService`: raw lines in, stored events out. The daemon, the HTTP API and file tailing all call it,
so parsing, dead-lettering and storing happen in one place.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from logai import metrics
from logai.events import Event
from logai.ingest.lines import decode_line
from logai.pipeline import ParsePipeline
from logai.store.store import EventStore

log = logging.getLogger(__name__)


@dataclass
class IngestResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    events: list[Event] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)  # (index in the batch, error) of dead letters


class IngestService:
    """Parses batches of lines with the shared pipeline and stores them idempotently. Thread-safe."""

    def __init__(self, pipeline: ParsePipeline, store: EventStore):
        self.pipeline = pipeline
        self.store = store
        self._lock = threading.Lock()  # parser state is per process and not thread-safe

    def ingest(self, lines: Sequence[bytes], *, source: str, format_name: str, keys: Sequence[str],
               door: str, first_line: int = 1) -> IngestResult:
        """Parse and store `lines`; `keys[i]` is line i's idempotency key. Bad records go to dead letters."""
        if len(keys) != len(lines):
            raise ValueError("one ingest key per line is required")
        result = IngestResult(received=len(lines))
        start = time.perf_counter()
        metrics.LINES_IN.labels(source=source, door=door).inc(len(lines))
        batch: list[tuple[str, Event]] = []
        with self._lock:
            parse = self.pipeline.open_source(source, format_name).parse  # once per batch, not per line
            for i, (raw, key) in enumerate(zip(lines, keys, strict=True)):
                try:
                    text, flags = decode_line(raw)
                    event = parse(text, source, first_line + i, None, flags)
                except Exception as exc:
                    log.warning("dead-lettering a record of %s: %s", source, exc)
                    metrics.ERRORS.labels(stage="parse").inc()
                    metrics.DEAD_LETTERS.labels(reason="parse").inc()
                    self.store.dead_letter(source, raw, f"parse error: {exc!r}", ingest_key=key)
                    result.dead_letters += 1
                    result.failed.append((i, f"parse error: {exc!r}"))
                    continue
                batch.append((key, event))
                result.events.append(event)
            self.pipeline.maybe_save()
        written = self.store.write(batch)
        result.stored, result.duplicates = written.inserted, written.duplicates
        metrics.EVENTS_STORED.inc(written.inserted)
        metrics.DUPLICATES.inc(written.duplicates)
        metrics.BATCH_SECONDS.labels(door=door).observe(time.perf_counter() - start)
        return result

    def close(self) -> None:
        with self._lock:
            self.pipeline.close()
        self.store.close()
