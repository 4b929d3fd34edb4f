"""The streaming daemon against a real Kafka-protocol broker (Tansu) and a real SQLite store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from sqlalchemy import create_engine, text
from sqlalchemy.exc import ProgrammingError

from logai.bootstrap import build_service
from logai.config import DetectConfig, KafkaConfig, Settings
from logai.doors.kafka import KafkaDaemon
from logai.store.store import EventStore
from pipelines import hdfs_like

LOGAI = str(Path(sys.executable).with_name("logai"))
FAST_GROUP = {"session_timeout_ms": 6000, "heartbeat_interval_ms": 1000}


def produce(bootstrap: str, topic: str, lines: list[str], sources: int = 3) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    for i, line in enumerate(lines):
        producer.send(topic, key=f"hdfs-{i % sources}".encode(), value=line.encode())
    producer.flush()
    producer.close()


def run_until_stored(daemon: KafkaDaemon, db: Path, count: int, timeout: float = 120.0) -> None:
    """Run `daemon` until `count` events are in the store, then stop it as SIGTERM would (it completes the
    batch in flight): no idle polls to wait out at the end."""
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        _wait_for(lambda: _count(db) >= count or not thread.is_alive(), timeout)
    finally:
        daemon.stop()
        thread.join(60)
    assert not thread.is_alive()


def read_topic(bootstrap: str, topic: str) -> list[dict]:
    """Every message of `topic`, from the start of each partition (assigned: no consumer group to join). The
    daemon has published and stopped, so they are all there: 2 s without another ends the read."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest",
                             consumer_timeout_ms=2000)
    consumer.assign([TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())])
    out = [orjson.loads(message.value) for message in consumer]
    consumer.close()
    return out


def stored_keys(db: Path) -> list[str]:
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        keys = [k for (k,) in conn.execute(text("SELECT ingest_key FROM events"))]
    engine.dispose()
    return keys


@pytest.mark.parametrize("writer_process", [False, True], ids=["inline-store", "writer-process"])
def test_daemon_stores_and_publishes_every_line_once(kafka_broker, tmp_path, writer_process):
    kafka_broker.create_topic("logs", partitions=3)
    lines = list(hdfs_like.generate(3000, seed=1))
    produce(kafka_broker.bootstrap, "logs", lines)
    config = KafkaConfig(bootstrap_servers=[kafka_broker.bootstrap], topics=["logs"], group_id="g-test",
                         formats={f"hdfs-{i}": "HDFS" for i in range(3)}, **FAST_GROUP)
    settings = Settings(data_dir=tmp_path, detect=DetectConfig(new_template_warmup=100))
    service = build_service(settings, writer_process=writer_process)
    store = service.store
    run_until_stored(KafkaDaemon(config, service), tmp_path / "logai.db", 3000)

    keys = stored_keys(tmp_path / "logai.db")
    assert len(keys) == len(set(keys)) == 3000
    assert {k.split("|")[0] for k in keys} == {"kafka:logs"}
    engine = create_engine(f"sqlite:///{tmp_path / 'logai.db'}")
    with engine.connect() as conn:  # one verdict per event, stored in the event's transaction, with its id
        linked = conn.execute(text("SELECT count(*), count(DISTINCT a.event_id) FROM analyses a "
                                   "JOIN events e ON e.id = a.event_id")).one()
        unlinked = conn.execute(text("SELECT count(*) FROM analyses WHERE event_id IS NULL")).scalar()
    engine.dispose()
    assert tuple(linked) == (3000, 3000) and unlinked == 0
    stored_anomalies = EventStore(f"sqlite:///{tmp_path / 'logai.db'}").anomalies(limit=10_000)
    assert stored_anomalies and {a["detector"] for a in stored_anomalies} == {"new_template"}
    del store
    published_anomalies = read_topic(kafka_broker.bootstrap, "logai-anomalies")
    assert len(published_anomalies) == len(stored_anomalies)
    assert all(a["evidence"]["template_id"] for a in published_anomalies)

    published = read_topic(kafka_broker.bootstrap, "logai-events")
    assert len(published) == 3000
    assert {e["source"] for e in published} == {"hdfs-0", "hdfs-1", "hdfs-2"}
    assert all(e["template_id"] for e in published)


def _start_daemon(tmp_path: Path, bootstrap: str, store_url: str | None = None, name: str = "logai",
                  sources: int = 3) -> subprocess.Popen:
    config = tmp_path / f"{name}.yaml"
    store = f"store: {{url: '{store_url}'}}\n" if store_url else ""
    formats = ", ".join(f"hdfs-{i}: HDFS" for i in range(sources))
    config.write_text(
        f"data_dir: {tmp_path / 'data'}\n{store}"
        f"parsing: {{state_file: {tmp_path / 'data' / (name + '-state.json')}}}\n"
        "kafka:\n"
        f"  bootstrap_servers: ['{bootstrap}']\n"
        "  topics: [logs]\n  group_id: crash-test\n  output_topic: null\n  max_poll_records: 500\n"
        "  session_timeout_ms: 6000\n  heartbeat_interval_ms: 1000\n"
        f"  formats: {{{formats}}}\n"
        "logging: {level: INFO}\n")
    return subprocess.Popen([LOGAI, "--config", str(config), "daemon"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


class _StderrReader:
    """A daemon's stderr, read as it comes (a pipe nobody reads fills up and stalls the writer)."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(proc,), daemon=True)
        self._thread.start()

    def _read(self, proc: subprocess.Popen) -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            self.lines.append(raw.decode(errors="replace"))

    def last_assignment(self) -> str:
        return next((line for line in reversed(self.lines) if "partitions assigned" in line), "")

    def text(self) -> str:
        self._thread.join(timeout=10)
        return "".join(self.lines)


def _wait_for(predicate, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.25)


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        return len(stored_keys(db))
    except Exception:  # the table may not exist yet
        return 0


def test_kill_9_mid_stream_then_restart_loses_and_doubles_nothing(kafka_broker, tmp_path):
    kafka_broker.create_topic("logs", partitions=3)
    total = 20_000
    produce(kafka_broker.bootstrap, "logs", list(hdfs_like.generate(total, seed=2)))
    db = tmp_path / "data" / "logai.db"

    first = _start_daemon(tmp_path, kafka_broker.bootstrap)
    _wait_for(lambda: _count(db) >= 3000)
    os.kill(first.pid, signal.SIGKILL)  # mid-stream, no chance to commit or save
    first.wait(timeout=30)
    assert _count(db) < total, "the daemon finished before it could be killed; raise `total`"

    second = _start_daemon(tmp_path, kafka_broker.bootstrap)
    _wait_for(lambda: _count(db) >= total, timeout=180)
    time.sleep(2)  # anything still arriving would be a duplicate
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=60) == 0, second.stderr.read() if second.stderr else ""

    keys = stored_keys(db)
    offsets = {tuple(k.split("|")[1:]) for k in keys}
    assert len(keys) == len(offsets) == total  # every (partition, offset) exactly once
    per_partition: dict[str, list[int]] = {}
    for partition, offset in offsets:
        per_partition.setdefault(partition, []).append(int(offset))
    for found in per_partition.values():
        assert sorted(found) == list(range(len(found)))  # no gaps
    assert (tmp_path / "data" / "logai-state.json").exists()  # parser state saved at the clean stop


def test_dead_broker_is_a_clear_error(tmp_path):
    from pipelines.local_services import free_port

    config = tmp_path / "logai.yaml"
    config.write_text(f"data_dir: {tmp_path}\nkafka:\n  bootstrap_timeout_ms: 3000\n")
    result = subprocess.run([LOGAI, "--config", str(config), "daemon", "--bootstrap-servers",
                             f"127.0.0.1:{free_port()}"], capture_output=True, timeout=120)
    assert result.returncode != 0 and b"cannot reach Kafka" in result.stderr


@pytest.mark.parametrize("bad", [b"\xff\xfe\x00 binary", b"x" * 200_000])
def test_bad_records_do_not_stop_the_stream(kafka_broker, tmp_path, bad):
    kafka_broker.create_topic("logs", partitions=1)
    producer = KafkaProducer(bootstrap_servers=kafka_broker.bootstrap, max_request_size=1_048_576)
    good = next(hdfs_like.generate(1, seed=3)).encode()
    for value in (good, bad, good):
        producer.send("logs", key=b"hdfs-0", value=value)
    producer.flush()
    producer.close()
    config = KafkaConfig(bootstrap_servers=[kafka_broker.bootstrap], topics=["logs"], group_id="g-bad",
                         formats={"hdfs-0": "HDFS"}, **FAST_GROUP)
    run_until_stored(KafkaDaemon(config, build_service(Settings(data_dir=tmp_path))), tmp_path / "logai.db", 3)
    assert len(stored_keys(tmp_path / "logai.db")) == 3  # flagged, stored, nothing dropped


def test_broker_that_goes_away_and_comes_back(kafka_broker, tmp_path):
    """The broker stops answering mid-stream (frozen, as in a network partition), then returns: the daemon
    keeps running, resumes, and stores every line exactly once."""
    kafka_broker.create_topic("logs", partitions=3)
    db = tmp_path / "data" / "logai.db"
    produce(kafka_broker.bootstrap, "logs", list(hdfs_like.generate(2000, seed=4)))
    daemon = _start_daemon(tmp_path, kafka_broker.bootstrap)
    try:
        _wait_for(lambda: _count(db) >= 2000)
        os.kill(kafka_broker.process.pid, signal.SIGSTOP)
        time.sleep(10)  # longer than the session timeout: requests time out, the group must be rejoined
        assert daemon.poll() is None, "the daemon died while the broker was away"
        os.kill(kafka_broker.process.pid, signal.SIGCONT)
        produce(kafka_broker.bootstrap, "logs", list(hdfs_like.generate(2000, seed=5)))
        _wait_for(lambda: _count(db) >= 4000, timeout=180)
        time.sleep(2)
        keys = stored_keys(db)
        assert len(keys) == len(set(keys)) == 4000
    finally:
        os.kill(kafka_broker.process.pid, signal.SIGCONT)
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=60) == 0


def test_daemons_in_one_group_share_partitions_with_stable_template_ids(kafka_broker, tmp_path, pg_url):
    """Three daemons, one group, one PostgreSQL store: each gets partitions, every record is stored once,
    and each source's template ids are those a single parser gives the same lines."""
    from sqlalchemy import create_engine

    from logai.pipeline import Pipeline

    kafka_broker.create_topic("logs", partitions=6)
    daemons = [_start_daemon(tmp_path, kafka_broker.bootstrap, pg_url, name=f"worker-{n}", sources=6)
               for n in range(3)]
    readers = [_StderrReader(daemon) for daemon in daemons]
    total = 12_000
    lines = list(hdfs_like.generate(total, seed=6))
    try:
        # all three in the group before data flows, so no source changes worker mid-stream: each holds two
        # of the six partitions (however long start-up takes on a busy machine)
        _wait_for(lambda: all(r.last_assignment().count("('logs'") == 2 for r in readers), timeout=180)
        produce(kafka_broker.bootstrap, "logs", lines, sources=6)
        engine = create_engine(pg_url)

        def stored() -> list[tuple[str, str, str]]:
            try:
                with engine.connect() as conn:
                    query = text("SELECT ingest_key, source, template_id FROM events")
                    return [tuple(r) for r in conn.execute(query)]
            except ProgrammingError:  # the store writer creates its tables with its first batch
                return []

        _wait_for(lambda: len(stored()) >= total, timeout=180)
        time.sleep(2)
        rows = stored()
        engine.dispose()
    finally:
        for daemon in daemons:
            daemon.send_signal(signal.SIGTERM)
        for daemon in daemons:
            daemon.wait(timeout=60)
        logs = [reader.text() for reader in readers]
    assert [d.returncode for d in daemons] == [0, 0, 0], logs
    assert all("partitions assigned: [('logs'" in log for log in logs), "a daemon got no partitions"
    assert len(rows) == len({key for key, _, _ in rows}) == total

    pipeline = Pipeline()
    for source in {s for _, s, _ in rows}:
        index = int(source.split("-")[1])
        expected = {pipeline.parse_text(line, source=source, format_name="HDFS", line=i).template_id
                    for i, line in enumerate(lines[index::6])}
        assert {t for _, s, t in rows if s == source} == expected
