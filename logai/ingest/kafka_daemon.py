"""The streaming daemon: Kafka in, stored and published events out, at least once.

A batch is polled, parsed and stored (idempotently, keyed by topic/partition/offset), its enriched events
are published, and only then are its offsets committed. A crash anywhere before the commit means the batch
is delivered again, and the store's keys make the replay count nothing twice. Failures (store or broker
down) pause the partitions, back off, rewind to the last commit and resume. SIGTERM finishes the batch,
commits, saves the parser state and exits 0.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import AsyncConsumerRebalanceListener

from logai import metrics
from logai.config import KafkaConfig, RetentionConfig
from logai.ingest.watcher import Retention
from logai.service import IngestService

log = logging.getLogger(__name__)
MAX_BACKOFF_S = 30.0


class _RebalanceLog(AsyncConsumerRebalanceListener):
    """Rebalance hooks. Nothing needs flushing or committing here: every batch is stored, published and
    committed before the next poll, and a consumer's positions only move past records that poll returned,
    so at revocation the committed offsets already equal the positions. (kafka-python runs these hooks on
    its IO thread, where a blocking commit is not allowed anyway.)"""

    def __init__(self, daemon: KafkaDaemon):
        self.daemon = daemon

    async def on_partitions_revoked(self, revoked):
        if revoked:
            log.info("partitions revoked after %d batches: %s", self.daemon.batches,
                     sorted((tp.topic, tp.partition) for tp in revoked))

    async def on_partitions_assigned(self, assigned):
        log.info("partitions assigned: %s", sorted((tp.topic, tp.partition) for tp in assigned))


class KafkaDaemon:
    def __init__(self, config: KafkaConfig, service: IngestService, retention: RetentionConfig | None = None):
        self.config = config
        self.service = service
        self.retention = Retention(retention or RetentionConfig())
        self._stop = threading.Event()
        self._in_batch = False  # True between poll and commit: positions then run ahead of what is stored
        self.batches = 0
        options = config.client_options()
        self.consumer = KafkaConsumer(
            **options, group_id=config.group_id, enable_auto_commit=False, auto_offset_reset="earliest",
            max_poll_records=config.max_poll_records, fetch_max_wait_ms=config.fetch_max_wait_ms,
            session_timeout_ms=config.session_timeout_ms,
            heartbeat_interval_ms=config.heartbeat_interval_ms)
        self.consumer.subscribe(config.topics, listener=_RebalanceLog(self))
        needs_producer = config.output_topic or config.dead_letter_topic
        self.producer = KafkaProducer(**options, acks="all", linger_ms=5) if needs_producer else None

    # -- control -------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to finish the current batch and exit (safe from a signal handler)."""
        self._stop.set()

    def run(self, max_idle_polls: int | None = None) -> None:
        """Consume until `stop()` (or `max_idle_polls` empty polls in a row, for tests and batch jobs)."""
        backoff, idle = self.config.retry_backoff_s, 0
        try:
            while not self._stop.is_set():
                polled = self.consumer.poll(timeout_ms=self.config.poll_timeout_ms)
                if not polled:
                    idle += 1
                    if max_idle_polls is not None and idle >= max_idle_polls:
                        break
                    continue
                idle = 0
                try:
                    self._in_batch = True
                    self.process(polled)
                    self.commit()
                    self._in_batch = False
                    backoff = self.config.retry_backoff_s
                    self.retention.maybe_apply(self.service)
                except Exception as exc:
                    metrics.ERRORS.labels(stage="daemon").inc()
                    log.error("batch failed (%s); retrying from the last commit in %.1f s", exc, backoff)
                    self._rewind_after(backoff)
                    self._in_batch = False
                    backoff = min(backoff * 2, MAX_BACKOFF_S)
        finally:
            self.close()

    # -- work ----------------------------------------------------------------------------------------------
    def process(self, polled: dict[TopicPartition, list[Any]]) -> int:
        """Parse, store and publish one poll's records; returns the number stored."""
        stored = 0
        for tp, records in polled.items():
            by_source: dict[str, list[Any]] = defaultdict(list)
            for record in records:
                source = record.key.decode("utf-8", "replace") if record.key else tp.topic
                by_source[source].append(record)
            for source, group in by_source.items():
                lines = [r.value if r.value is not None else b"" for r in group]
                keys = [f"kafka:{tp.topic}|{tp.partition}|{r.offset}" for r in group]
                result = self.service.ingest(
                    lines, source=source, format_name=self.config.formats.get(source, self.config.default_format),
                    keys=keys, door="kafka", first_line=group[0].offset + 1)
                stored += result.stored
                self._publish(source, result, group)
            self._record_lag(tp, records[-1].offset)
        if self.producer is not None:
            self.producer.flush(timeout=30)  # published before committed: at least once downstream too
        self.batches += 1
        return stored

    def _publish(self, source: str, result, group: list[Any]) -> None:
        if self.producer is None:
            return
        key = source.encode()
        if self.config.output_topic:
            for event in result.events:
                self.producer.send(self.config.output_topic, key=key, value=event.to_json())
        if self.config.dead_letter_topic:
            for index, error in result.failed:
                record = group[index]
                self.producer.send(self.config.dead_letter_topic, key=key, value=record.value or b"",
                                   headers=[("error", error.encode()), ("offset", str(record.offset).encode())])

    def _record_lag(self, tp: TopicPartition, last_offset: int) -> None:
        high = self.consumer.highwater(tp)
        if high is not None:
            metrics.CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(max(0, high - last_offset - 1))

    def commit(self) -> None:
        self.consumer.commit()

    def _rewind_after(self, wait_s: float) -> None:
        """Pause, wait, then seek every assigned partition back to its committed offset and resume."""
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
        if not self._in_batch:  # never commit past records that were not stored
            try:
                self.commit()
            except Exception as exc:
                log.warning("final commit failed: %s", exc)
        self.consumer.close(autocommit=False)
        if self.producer is not None:
            self.producer.flush(timeout=10)
            self.producer.close(timeout=10)
        self.service.close()
        time.sleep(0)  # let kafka-python's threads notice the close
