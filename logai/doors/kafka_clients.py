"""The daemon's Kafka clients, and joining the consumer group while the rest of the daemon starts.

A new member of a consumer group waits about 3 s for the coordinator's rebalance delay
(`group.initial.rebalance.delay.ms`), and the daemon's own start (torch, the small models) takes longer. So
`logai daemon` opens the clients first, before importing anything heavy, and a thread joins the group (and
polls the first batch) while the service is built; `KafkaDaemon` then takes over the consumer. Only this
module's imports are light: kafka-python and the settings.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.subscription_state import AsyncConsumerRebalanceListener

from logai.config import KafkaConfig

log = logging.getLogger(__name__)
Polled = dict[TopicPartition, list[Any]]


class RebalanceLog(AsyncConsumerRebalanceListener):
    """Rebalance hooks, for the log. At most one batch is in flight (stored, not yet committed) when
    partitions are revoked; it is committed for the partitions this worker keeps, and the new owner of the
    others reads its records again, which the store's ingest keys turn into no-ops. (kafka-python runs
    these hooks on its IO thread, where a blocking commit or a wait on the store writer is not allowed.)"""

    def __init__(self) -> None:
        self.batches: Callable[[], int] = lambda: 0  # the daemon's count, once there is a daemon

    async def on_partitions_revoked(self, revoked):
        if revoked:
            log.info("partitions revoked after %d batches: %s", self.batches(),
                     sorted((tp.topic, tp.partition) for tp in revoked))

    async def on_partitions_assigned(self, assigned):
        log.info("partitions assigned: %s", sorted((tp.topic, tp.partition) for tp in assigned))


class KafkaClients:
    """The consumer (subscribed, auto-commit off) and, when anything is published, the producer.

    `start_joining` polls in a thread until the group has assigned partitions to this member; the consumer
    is not thread-safe, so `finish_joining` waits for that thread before anyone else polls."""

    def __init__(self, config: KafkaConfig):
        self.config = config
        options = config.client_options()
        self.rebalances = RebalanceLog()
        self.consumer = KafkaConsumer(
            **options, group_id=config.group_id, enable_auto_commit=False, auto_offset_reset="earliest",
            max_poll_records=config.max_poll_records, fetch_max_wait_ms=config.fetch_max_wait_ms,
            session_timeout_ms=config.session_timeout_ms,
            heartbeat_interval_ms=config.heartbeat_interval_ms)
        self.consumer.subscribe(config.topics, listener=self.rebalances)
        needs_producer = config.output_topic or config.dead_letter_topic or config.anomalies_topic
        try:
            self.producer = KafkaProducer(**options, acks="all", linger_ms=5) if needs_producer else None
        except Exception:
            self.consumer.close(autocommit=False)
            raise
        self._joining: threading.Thread | None = None
        self._stop_joining = threading.Event()
        self._first: Polled = {}
        self._error: BaseException | None = None

    def start_joining(self) -> None:
        """Join the group in a thread (records it polls meanwhile are kept for `finish_joining`)."""
        self._joining = threading.Thread(target=self._join, name="kafka-join", daemon=True)
        self._joining.start()

    def _join(self) -> None:
        try:
            while not self._stop_joining.is_set():
                self._first = self.consumer.poll(timeout_ms=self.config.poll_timeout_ms)
                if self._first or self.consumer.assignment():
                    return
        except BaseException as exc:  # handed to the caller of finish_joining, as if its own poll raised
            self._error = exc

    def finish_joining(self) -> Polled:
        """Stop the joining thread after its poll in hand (the caller's own polls finish a join still under
        way, and see its stop flag) and return what it polled: nothing when it was not started. Not committed:
        the caller processes these records like any poll's."""
        if self._joining is None:
            return {}
        self._stop_joining.set()
        self._joining.join()
        self._joining = None
        first, self._first = self._first, {}
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return first

    def close(self) -> None:
        """Leave the group without committing, and flush and close the producer."""
        self._stop_joining.set()
        if self._joining is not None:
            self._joining.join()
        self.consumer.close(autocommit=False)
        if self.producer is not None:
            self.producer.flush(timeout=10)
            self.producer.close(timeout=10)
