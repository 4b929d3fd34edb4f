"""The store writer process: results in order, idempotent replays, and clear errors when it cannot write."""

from __future__ import annotations

import os
import signal

import pytest

from logai.events import Event, Param
from logai.store.rows import prepare
from logai.store.store import EventQuery, EventStore, WriteResult
from logai.store.writer import StoreWriteError, StoreWriter


def _batch(start: int, n: int) -> list[tuple[str, Event]]:
    return [(f"t|0|{i}", Event(raw=f"r{i}", source="app", line=i, content=f"user u{i} in", template_id="T",
                                template="user <*> in", params=[Param(f"u{i}", "word", "user")]))
            for i in range(start, start + n)]


def test_batches_are_written_in_order_and_replays_count_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'logai.db'}"
    EventStore(url).close()
    writer = StoreWriter(url)
    try:
        tickets = [writer.submit(prepare(_batch(i * 100, 100))) for i in range(5)]
        replay = writer.submit(prepare(_batch(0, 150)))
        assert [writer.result(t) for t in tickets] == [WriteResult(100, 0)] * 5
        assert writer.result(replay) == WriteResult(0, 150)
    finally:
        writer.close()
    store = EventStore(url)
    rows, _ = store.events(EventQuery(value="u42", concept="user"))
    assert [r["line"] for r in rows] == [42]  # parameter rows point at the right event ids
    assert store.template("T")["count"] == 500
    store.close()


def test_a_store_that_cannot_be_opened_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreWriteError, match="cannot open the store"):
        StoreWriter(f"sqlite:///{blocker / 'logai.db'}")


def test_a_dead_writer_fails_the_batch_instead_of_hanging(tmp_path):
    url = f"sqlite:///{tmp_path / 'logai.db'}"
    writer = StoreWriter(url)
    os.kill(writer._process.pid, signal.SIGKILL)
    writer._process.join(timeout=10)
    with pytest.raises(StoreWriteError, match=r"exited|gone"):
        writer.result(writer.submit(prepare(_batch(0, 10))))
    writer.close()


def test_a_failed_write_is_reported_and_the_writer_goes_on(tmp_path):
    url = f"sqlite:///{tmp_path / 'logai.db'}"
    writer = StoreWriter(url)
    try:
        bad = prepare(_batch(0, 1))
        bad.rows[0] = bad.rows[0][:3]  # a row missing columns: the insert fails
        failed = writer.submit(bad)
        good = writer.submit(prepare(_batch(1, 3)))
        with pytest.raises(StoreWriteError):
            writer.result(failed)
        assert writer.result(good) == WriteResult(3, 0)
    finally:
        writer.close()
