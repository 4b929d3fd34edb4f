"""`StoreWriter`: the store's inserts in a child process, so a daemon parses on one core while the
previous batch is written on the other.

The parent submits prepared batches (`logai.store.rows`) and later waits for each one's result; a batch is
durable when `result(ticket)` returns. Tickets complete in order. A failed write comes back as
`StoreWriteError` (the batch is not stored: its offsets must not be committed), and a writer that died
raises it too, so the caller can rewind and retry exactly as with an inline store.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
from multiprocessing.connection import Connection

from logai.store.rows import PreparedBatch
from logai.store.store import EventStore, WriteResult

log = logging.getLogger(__name__)


class StoreWriteError(RuntimeError):
    """A batch the writer process could not store."""


def _serve(conn: Connection, url: str, bucket_seconds: int) -> None:
    """The child's loop: open the store, then write each batch and answer (ticket, result or error)."""
    try:
        store = EventStore(url, bucket_seconds=bucket_seconds)
    except Exception as exc:
        conn.send(("open", f"cannot open the store: {exc!r}"))
        return
    conn.send(("open", None))
    try:
        while True:
            message = conn.recv()
            if message is None:
                break
            ticket, batch = message
            try:
                conn.send((ticket, store.write(batch)))
            except Exception as exc:
                conn.send((ticket, f"{type(exc).__name__}: {exc}"))
    except (EOFError, KeyboardInterrupt):
        pass  # the parent went away or the terminal interrupted both: nothing is half-written
    finally:
        store.close()


class StoreWriter:
    """A writer process for one store URL. Not thread-safe: one owner submits and collects."""

    def __init__(self, url: str, bucket_seconds: int = 60):
        # spawn, not fork: the parent runs Kafka's IO threads, which a forked child must not inherit
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, url, bucket_seconds),
                                        name="logai-store-writer", daemon=True)
        self._process.start()
        child.close()
        self._next = 0  # tickets handed out
        self._answered = 0  # tickets answered (in order)
        self._results: dict[int, WriteResult | str] = {}
        _, error = self._receive()
        if error is not None:
            self.close()
            raise StoreWriteError(error)

    def submit(self, batch: PreparedBatch) -> int:
        """Hand a batch to the writer; returns its ticket for `result`."""
        ticket = self._next
        self._next += 1
        try:
            self._conn.send((ticket, batch))
        except (OSError, ValueError) as exc:
            raise StoreWriteError(f"the store writer process is gone: {exc!r}") from exc
        return ticket

    def result(self, ticket: int) -> WriteResult:
        """Wait until batch `ticket` is stored; StoreWriteError when it was not."""
        if ticket >= self._next:
            raise ValueError(f"ticket {ticket} was never submitted")
        while ticket not in self._results:
            done, outcome = self._receive()
            self._results[done] = outcome
        outcome = self._results.pop(ticket)
        if isinstance(outcome, str):
            raise StoreWriteError(outcome)
        return outcome

    def drain(self) -> None:
        """Wait for every submitted batch and forget their outcomes (before a rewind)."""
        while self._answered < self._next:
            self._receive()
        self._results.clear()

    def _receive(self) -> tuple:
        while not self._conn.poll(1.0):
            if not self._process.is_alive():
                raise StoreWriteError(f"the store writer process exited with code {self._process.exitcode}")
        try:
            message = self._conn.recv()
        except EOFError as exc:
            raise StoreWriteError("the store writer process exited") from exc
        if message[0] != "open":
            self._answered += 1
        return message

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._conn.send(None)
        self._process.join(timeout=30)
        if self._process.is_alive():
            log.warning("the store writer did not stop in 30 s; terminating it")
            self._process.terminate()
            self._process.join(timeout=5)
        self._conn.close()
