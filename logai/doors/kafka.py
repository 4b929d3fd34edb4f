"""The streaming daemon: Kafka in, stored and published events out, at least once.

A batch is polled, parsed and stored (idempotently, keyed by topic/partition/offset), its enriched events
are published, and only then are its offsets committed. A crash anywhere before the commit means the batch
is delivered again, and the store's keys make the replay count nothing twice. With the store writer in its
own process, the next batch is parsed while the previous one is written (one batch in flight). Failures
(store or broker down) pause the partitions, back off, rewind to the last commit and resume. SIGTERM
finishes the batch, commits, saves the parser state and exits 0.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from kafka import OffsetAndMetadata, TopicPartition

from logai import metrics
from logai.config import KafkaConfig, RetentionConfig
from logai.doors.kafka_clients import KafkaClients
from logai.doors.keys import ingest_key
from logai.doors.watcher import Retention
from logai.service import IngestResult, IngestService

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 30.0


@dataclass
class _InFlight:
    """A batch handed to the store but not yet committed."""

    wait_stored: Callable[[], Any]
    offsets: dict[TopicPartition, OffsetAndMetadata]  # next offset to read, per partition of the batch
    started: float


class KafkaDaemon:
    """Runs the loop on `clients` (opened here when not given: `logai daemon` opens them first, so that the
    group is joined while the service is built)."""

    def __init__(self, config: KafkaConfig, service: IngestService, retention: RetentionConfig | None = None,
                 clients: KafkaClients | None = None):
        self.config = config
        self.service = service
        self.retention = Retention(retention or RetentionConfig())
        self._stop = threading.Event()
        self.batches = 0
        self.clients = clients or KafkaClients(config)
        self.clients.rebalances.batches = lambda: self.batches
        self.consumer = self.clients.consumer
        self.producer = self.clients.producer

    # -- control -------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to finish the current batch and exit (safe from a signal handler)."""
        self._stop.set()

    def run(self, max_idle_polls: int | None = None) -> None:
        """Consume until `stop()` (or `max_idle_polls` empty polls in a row, for tests and batch jobs).

        One batch is in flight at a time: batch k+1 is polled and parsed while batch k is being stored,
        then batch k's offsets are committed once it is durable and published."""
        backoff, idle = self.config.retry_backoff_s, 0
        in_flight: _InFlight | None = None
        try:
            joined = self.clients.finish_joining()  # what a joining thread polled, processed like any poll
            while not self._stop.is_set():
                polled = joined or self.consumer.poll(timeout_ms=self.config.poll_timeout_ms)
                joined = {}
                try:
                    started = self.process(polled) if polled else None
                    if in_flight is not None:
                        self.complete(in_flight)
                    in_flight = started
                    backoff = self.config.retry_backoff_s
                    if started is not None:
                        self.retention.maybe_apply(self.service)
                except Exception as exc:
                    in_flight = None
                    metrics.ERRORS.labels(stage="daemon").inc()
                    log.error("batch failed (%s); retrying from the last commit in %.1f s", exc, backoff)
                    self._rewind_after(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
                    continue
                idle = 0 if polled else idle + 1
                if not polled and self.service.analysis is not None:
                    self.service.analysis.hold_reviews(False)
                if max_idle_polls is not None and idle >= max_idle_polls:
                    break
            if in_flight is not None:
                self.complete(in_flight)
        finally:
            self.close()

    # -- work ----------------------------------------------------------------------------------------------
    def process(self, polled: dict[TopicPartition, list[Any]]) -> _InFlight:
        """Parse one poll's records, start storing them (one transaction) and publish the enriched events.
        Returns what `complete` needs to finish the batch."""
        started = time.perf_counter()
        results: list[IngestResult] = []
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        behind = False  # records of these partitions wait to be read (or the broker has not said)
        for tp, records in polled.items():
            by_source: dict[str, list[Any]] = defaultdict(list)
            for record in records:
                source = record.key.decode("utf-8", "replace") if record.key else tp.topic
                by_source[source].append(record)
            for source, group in by_source.items():
                lines = [r.value if r.value is not None else b"" for r in group]
                keys = [ingest_key("kafka", tp.topic, tp.partition, r.offset) for r in group]
                result = self.service.parse(
                    lines, source=source, format_name=self.config.formats.get(source, self.config.default_format),
                    keys=keys, door="kafka", first_line=group[0].offset + 1)
                results.append(result)
                self._publish(source, result, group)
            offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, "", -1)
            lag = self._record_lag(tp, records[-1].offset)
            behind = behind or lag is None or lag > 0
        if self.service.analysis is not None:  # the LLM reviews once the topic is caught up, not during
            self.service.analysis.hold_reviews(behind)
        return _InFlight(self.service.submit(results), offsets, started)

    def complete(self, batch: _InFlight) -> None:
        """Wait until `batch` is stored and published, then commit its offsets (and no others)."""
        batch.wait_stored()
        if self.producer is not None:
            self.producer.flush(timeout=30)  # published before committed: at least once downstream too
        owned = self.consumer.assignment()  # partitions revoked meanwhile are replayed by their new owner
        offsets = {tp: offset for tp, offset in batch.offsets.items() if tp in owned}
        if offsets:
            self.consumer.commit(offsets=offsets)
        self.batches += 1
        metrics.BATCH_SECONDS.labels(door="kafka").observe(time.perf_counter() - batch.started)

    def _publish(self, source: str, result, group: list[Any]) -> None:
        if self.producer is None:
            return
        key = source.encode()
        if self.config.output_topic:
            for event in result.events:
                self.producer.send(self.config.output_topic, key=key, value=event.to_json())
        if self.config.anomalies_topic:
            for anomaly in result.anomalies:
                self.producer.send(self.config.anomalies_topic, key=key, value=orjson.dumps(asdict(anomaly)))
        if self.config.dead_letter_topic:
            for index, error in result.failed:
                record = group[index]
                self.producer.send(self.config.dead_letter_topic, key=key, value=record.value or b"",
                                   headers=[("error", error.encode()), ("offset", str(record.offset).encode())])

    def _record_lag(self, tp: TopicPartition, last_offset: int) -> int | None:
        """The partition's lag after `last_offset` (None when the broker has not said), also as a metric."""
        high = self.consumer.highwater(tp)
        if high is None:
            return None
        lag = max(0, high - last_offset - 1)
        metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(lag)
        return lag

    def _rewind_after(self, wait_s: float) -> None:
        """Drain the store writer, pause, wait, then seek every assigned partition back to its committed
        offset and resume."""
        try:
            self.service.drain()
        except Exception as exc:  # a dead writer: the retry will fail again and say so
            log.warning("could not drain the store writer: %s", exc)
        assigned = list(self.consumer.assignment())
        self.consumer.pause(*assigned)
        self._stop.wait(wait_s)
        for tp in assigned:
            committed = self.consumer.committed(tp)
            if committed is None:
                self.consumer.seek_to_beginning(tp)
            else:
                self.consumer.seek(tp, committed)
        self.consumer.resume(*assigned)

    def close(self) -> None:
        """Leave the group without committing (every stored batch was committed by `complete`)."""
        self.clients.close()
        self.service.close()
        time.sleep(0)  # let kafka-python's threads notice the close
