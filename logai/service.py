"""`IngestService`: raw lines in, stored events out. The daemon, the HTTP API and file tailing all call it,
so parsing, dead-lettering and storing happen in one place.

`ingest` parses and stores in one call. The daemon splits the two (`parse`, then `submit`) so that, with a
`StoreWriter`, batch k is written by the writer process while batch k+1 is parsed here.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from logai import metrics
from logai.detect.signals import Anomaly
from logai.events import Event, Record
from logai.pipeline import MAX_SOURCE_CHARS, Parsed, Pipeline
from logai.route.analysis import AnalysisService, Decided
from logai.store.rows import PreparedBatch, prepare
from logai.store.store import EventStore, WriteResult
from logai.store.writer import StoreWriter

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class IngestResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    joined: int = 0  # lines that continue the record before them (a stack trace): part of that record's event
    events: list[Event] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)  # the ingest key of each event
    failed: list[tuple[int, str]] = field(default_factory=list)  # (index in the batch, error) of dead letters
    anomalies: list[Anomaly] = field(default_factory=list)  # what the stream scorer found in these events
    template_ids: list[str | None] = field(default_factory=list)  # of each stored-or-duplicate event, in order
    merges: list[tuple[str, str]] = field(default_factory=list)  # templates that generalised: (old, new id)

    def absorb(self, part: IngestResult, offset: int) -> None:
        """Add the outcome of one chunk (whose first line is line `offset` of the whole request)."""
        self.stored += part.stored
        self.duplicates += part.duplicates
        self.dead_letters += part.dead_letters
        self.joined += part.joined
        self.failed += [(index + offset, error) for index, error in part.failed]
        self.anomalies += part.anomalies
        self.template_ids += [event.template_id for event in part.events]


class BackgroundWork(Protocol):
    """What the service knows of a door out that runs beside it: it starts and stops."""

    def start(self) -> object: ...

    def stop(self) -> None: ...


@dataclass
class Judged:
    """One stored batch as the doors out see it (`IngestService.listeners`): its events, the verdicts given
    to them ((analysis id, Verdict) pairs, in order; empty without a router) and the stream's anomalies."""

    events: list[Event]
    verdicts: list[tuple[int, Any]]
    anomalies: list[Anomaly]
    event_ids: list[int | None] | None = None


CHUNK_LINES = 2000  # a request is parsed and stored this many lines at a time...
CHUNK_BYTES = 128 * 1024  # ...or this many bytes: memory and GC pauses stay those of one chunk, not of the body


def chunks(items: Iterable[T], size_of: Callable[[T], int], max_items: int = CHUNK_LINES,
           max_bytes: int = CHUNK_BYTES) -> Iterator[list[T]]:
    """`items` in consecutive lists of at most `max_items` items and, past the first item, `max_bytes` (as
    `size_of` counts them), pulled from the iterable as needed: lazy lines or records are made a chunk at a time."""
    chunk: list[T] = []
    size = 0
    for item in items:
        item_size = size_of(item)
        if chunk and (len(chunk) >= max_items or size + item_size > max_bytes):
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += item_size
    if chunk:
        yield chunk


def _record_size(record: Record) -> int:
    return len(record.raw or record.content)


class IngestService:
    """Parses batches of lines with the shared pipeline and stores them idempotently. Thread-safe.

    With a `writer`, `submit` hands batches to that process; without one it writes inline.
    """

    def __init__(self, pipeline: Pipeline, store: EventStore, writer: StoreWriter | None = None):
        self.pipeline = pipeline
        self.store = store
        self.writer = writer
        self._lock = threading.Lock()  # parser state is per process and not thread-safe
        # the incident tracker, a door out set by `bootstrap` when alerts are on (typed where it is used)
        self.incidents: BackgroundWork | None = None
        self.listeners: list[Callable[[Judged], None]] = []  # doors out (incidents); called after each store
        self.on_start: list[Callable[[], object]] = []  # their threads (`start_background`)
        self.on_close: list[Callable[[], None]] = []  # their shutdown, before the store closes

    def ingest(self, lines: Sequence[bytes], *, source: str, format_name: str, keys: Sequence[str],
               door: str, first_line: int = 1) -> IngestResult:
        """Parse and store `lines`, a chunk at a time; `keys[i]` is line i's idempotency key. Bad records go to
        dead letters. The result carries counts and template ids, not the events (they are in the store)."""
        if len(keys) != len(lines):
            raise ValueError("one ingest key per line is required")
        start = time.perf_counter()
        total = IngestResult(received=len(lines))
        for lo, hi in self._spans(lines, format_name):
            part = self.parse(lines[lo:hi], source=source, format_name=format_name, keys=keys[lo:hi], door=door,
                              first_line=first_line + lo)
            total.absorb(self._store(part), lo)
        metrics.BATCH_SECONDS.labels(door=door).observe(time.perf_counter() - start)
        return total

    def _spans(self, lines: Sequence[bytes], format_name: str) -> list[tuple[int, int]]:
        """(start, end) of the chunks `lines` is parsed and stored in; a chunk ends before a record's first line,
        so a stack trace is not cut in two where its format joins lines."""
        spans, lo = [], 0
        for chunk in chunks(lines, len):
            spans.append((lo, lo + len(chunk)))
            lo += len(chunk)
        if len(spans) < 2 or not self.pipeline.parser(format_name).format.multiline:
            return spans
        out, lo = [], 0
        for _, hi in spans:
            end = min(len(lines), hi + self.pipeline.settings.parsing.max_record_lines)
            while lo < hi < end and self.pipeline.continues(format_name, lines[hi]):
                hi += 1
            if hi > lo:
                out.append((lo, hi))
                lo = hi
        return out

    def parse(self, lines: Sequence[bytes], *, source: str, format_name: str, keys: Sequence[str],
              door: str, first_line: int = 1) -> IngestResult:
        """Run the pipeline's stages up to storing on `lines` (`result.events`, not stored yet); lines that
        fail are dead-lettered."""
        if len(keys) != len(lines):
            raise ValueError("one ingest key per line is required")
        metrics.LINES_IN.labels(source=metrics.source_label(source), door=door).inc(len(lines))
        with self._lock:
            parsed = self.pipeline.run(lines, source=source, format_name=format_name, first_line=first_line)
        result = self._result(parsed, keys, len(lines))
        for index, exc in parsed.failed:
            self._dead_letter(result, index, source, lines[index], keys[index], exc)
        return result

    @staticmethod
    def _result(parsed: Parsed, keys: Sequence[str], received: int) -> IngestResult:
        return IngestResult(received=received, events=parsed.events, keys=[keys[i] for i in parsed.positions],
                            anomalies=parsed.anomalies, joined=received - len(parsed.events) - len(parsed.failed),
                            merges=parsed.merges)

    def match(self, texts: Sequence[str], *, source: str, format_name: str) -> list[Event]:
        """Events for `texts` from `source`'s known templates, learning nothing (`/v1/analyze`). Under the same
        lock as ingest: one owner for each source's parser state, whichever door or route asks."""
        with self._lock:
            return self.pipeline.match(texts, source=source, format_name=format_name)

    def parse_one(self, text: str, *, source: str, format_name: str) -> Event:
        """One line parsed (and learned from) like an ingested one, but not stored (`/v1/feedback`)."""
        with self._lock:
            return self.pipeline.parse_text(text, source=source, format_name=format_name, line=1)

    def ingest_records(self, records: Iterable[Record], *, format_name: str, door: str) -> IngestResult:
        """Mine and store records that a door has already split (OTLP, Loki, syslog, per-record JSON sources),
        a chunk at a time as `records` yields them: a lazy door holds one chunk of records, not the request's.
        `format_name` picks the miner settings (masking, Drain); records keep their order within a source."""
        start = time.perf_counter()
        total = IngestResult()
        for chunk in chunks(records, _record_size):
            for source, count in Counter(record.source[:MAX_SOURCE_CHARS] for record in chunk).items():
                metrics.LINES_IN.labels(source=metrics.source_label(source), door=door).inc(count)
            offset = total.received
            total.received += len(chunk)
            total.absorb(self._store(self._parse_records(chunk, format_name, offset)), offset)
        metrics.BATCH_SECONDS.labels(door=door).observe(time.perf_counter() - start)
        return total

    def _parse_records(self, records: Sequence[Record], format_name: str, first: int) -> IngestResult:
        with self._lock:
            parsed = self.pipeline.run_records(records, format_name=format_name, first_line=first + 1)
        result = self._result(parsed, [record.key for record in records], len(records))
        for index, exc in parsed.failed:
            record = records[index]
            raw = (record.raw or record.content).encode("utf-8", "backslashreplace")
            self._dead_letter(result, index, record.source, raw, record.key, exc)
        return result

    def _prepare(self, results: Sequence[IngestResult]) -> tuple[PreparedBatch, list[Decided | None]]:
        """Rows for the events of `results`, with their verdicts (the route stage's, with the stream's evidence
        about each: the anomalies found in the same batch for its template), for one transaction."""
        decided = [self.pipeline.decide(r.events, r.anomalies) for r in results]
        analyses: list[tuple[int, dict[str, Any]]] = []
        offset = 0
        for result, verdicts in zip(results, decided, strict=True):
            if verdicts is not None:
                analyses += [(offset + i, row) for i, row in enumerate(verdicts.rows)]
            offset += len(result.events)
        pairs = [pair for r in results for pair in zip(r.keys, r.events, strict=True)]
        return prepare(pairs, analyses=analyses, merges=[m for r in results for m in r.merges]), decided

    def _after_write(self, results: Sequence[IngestResult], decided: Sequence[Decided | None],
                     written: WriteResult) -> WriteResult:
        """After `results` are durable: their verdicts are recorded (the LLM's reviews queued), then the
        listeners see each batch's newly stored events, verdicts and anomalies (duplicates were judged when
        first stored)."""
        self._count(written)
        offset = position = 0
        for result, verdicts in zip(results, decided, strict=True):
            size = len(result.events)
            judged = Judged([], [], result.anomalies)
            if verdicts is not None and self.analysis is not None:
                ids = written.analysis_ids[position:position + size]
                position += size
                stored = [i for i in range(size) if ids[i] is not None]
                judged = Judged([result.events[i] for i in stored], self.analysis.record(verdicts, ids),
                                result.anomalies, [written.event_ids.get(offset + i) for i in stored])
            offset += size
            if self.listeners and (judged.verdicts or judged.anomalies):
                for listener in self.listeners:
                    try:
                        listener(judged)
                    except Exception:  # a door out must never fail an ingest whose events are stored
                        log.exception("a listener failed on a batch of %d events", size)
        return written

    def _store(self, result: IngestResult) -> IngestResult:
        prepared, decided = self._prepare([result])
        written = self._after_write([result], decided, self.store.write(prepared))
        self._store_anomalies([result])
        result.stored, result.duplicates = written.inserted, written.duplicates
        return result

    def reject(self, source: str, raw: bytes, door: str, reason: str, key: str | None = None) -> None:
        """Keep a record a door could not map (a bad timestamp, an oversized frame) as a dead letter."""
        log.warning("dead-lettering a record of %s from %s: %s", source, door, reason)
        metrics.DEAD_LETTERS.labels(reason=door).inc()
        metrics.DOOR_REJECTED.labels(door=door, reason="record").inc()
        self.store.dead_letter(source[:MAX_SOURCE_CHARS], raw, f"{door}: {reason}", ingest_key=key)

    def _dead_letter(self, result: IngestResult, index: int, source: str, raw: bytes, key: str,
                     exc: BaseException) -> None:
        log.warning("dead-lettering a record of %s: %s", source, exc)
        metrics.ERRORS.labels(stage="parse").inc()
        metrics.DEAD_LETTERS.labels(reason="parse").inc()
        self.store.dead_letter(source[:MAX_SOURCE_CHARS], raw, f"parse error: {exc!r}", ingest_key=key)
        result.dead_letters += 1
        result.failed.append((index, f"parse error: {exc!r}"))

    def submit(self, results: Sequence[IngestResult]) -> Callable[[], WriteResult]:
        """Start storing the events of parsed `results`, and their verdicts, as one transaction; the returned
        function waits until they are durable (raising if they could not be stored), records the verdicts
        and returns the counts."""
        prepared, decided = self._prepare(results)
        self._store_anomalies(results)
        if self.writer is None:
            written = self.store.write(prepared)
            return lambda: self._after_write(results, decided, written)
        writer = self.writer
        ticket = writer.submit(prepared)
        return lambda: self._after_write(results, decided, writer.result(ticket))

    def drain(self) -> None:
        """Wait out every write in flight, whatever its outcome (before retrying from a commit)."""
        if self.writer is not None:
            self.writer.drain()

    def _store_anomalies(self, results: Sequence[IngestResult]) -> None:
        anomalies = [a for r in results for a in r.anomalies]
        if anomalies:
            self.store.add_anomalies(anomalies)
            for anomaly in anomalies:
                metrics.ANOMALIES.labels(detector=anomaly.detector).inc()

    @staticmethod
    def _count(written: WriteResult) -> WriteResult:
        metrics.EVENTS_STORED.inc(written.inserted)
        metrics.DUPLICATES.inc(written.duplicates)
        return written

    @property
    def analysis(self) -> AnalysisService | None:
        """The pipeline's route stage (verdicts, feedback, reviews), when a router is configured."""
        return self.pipeline.route

    def start_background(self) -> None:
        """Start the threads of a long-running process (`serve`, `daemon`): the LLM's reviews of uncertain
        verdicts, incidents and alerts (`bootstrap` registers them)."""
        if self.analysis is not None:  # the LLM reviews what the small model is unsure of, off the ingest path
            self.analysis.start_reviews()
        for start in self.on_start:
            start()

    def close(self) -> None:
        if self.analysis is not None and self.analysis.router.backend is not None:
            self.analysis.router.backend.cancel()  # an LLM review or summary in hand ends now, not in seconds
        with self._lock:
            # sessions still open at shutdown are scored as they stand
            self._store_anomalies([IngestResult(anomalies=self.pipeline.flush())])
            self.pipeline.close()
        if self.analysis is not None:
            self.analysis.stop_reviews()
        for stop in self.on_close:
            stop()
        if self.writer is not None:
            self.writer.close()
        if self.analysis is not None and self.analysis.router.backend is not None:
            self.analysis.router.backend.close()
        self.store.close()

