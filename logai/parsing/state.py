"""Persisting parser state the way Drain3 does: the pipeline encodes its state to bytes and hands them to a
`PersistenceHandler`, which only stores and returns bytes. `FilePersistence` is the one in use (one
versioned JSON file, written atomically, never pickled); `MemoryPersistence` serves tests, and another
back-end (Redis, an object store) is one small class.

A state that is missing starts fresh silently; one that is corrupt, of another version or of another kind
starts fresh with a clear warning, and the handler keeps the bad copy for inspection.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)

STATE_KIND = "logai-parser-state"
STATE_VERSION = 1


class PersistenceHandler(ABC):
    """Where the parser state lives (compare `drain3.persistence_handler.PersistenceHandler`)."""

    @abstractmethod
    def save_state(self, state: bytes) -> None: ...

    @abstractmethod
    def load_state(self) -> bytes | None:
        """The saved bytes, or None when nothing was saved yet."""

    def set_aside(self) -> str:
        """Keep a state that could not be read out of the way of the next save; returns where it is."""
        return "(not kept)"


class MemoryPersistence(PersistenceHandler):
    def __init__(self) -> None:
        self.state: bytes | None = None

    def save_state(self, state: bytes) -> None:
        self.state = state

    def load_state(self) -> bytes | None:
        return self.state


class FilePersistence(PersistenceHandler):
    """One file, replaced atomically; a bad one is renamed `<name>.bad` (unless `keep_bad` is False, for
    read-only callers such as `logai templates`)."""

    def __init__(self, path: Path, keep_bad: bool = True):
        self.path = Path(path)
        self.keep_bad = keep_bad

    def save_state(self, state: bytes) -> None:
        write_atomic(self.path, state)

    def load_state(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None

    def set_aside(self) -> str:
        if not self.keep_bad:
            return str(self.path)
        kept = self.path.with_name(self.path.name + ".bad")
        try:
            os.replace(self.path, kept)
        except OSError:
            return str(self.path)
        return str(kept)


def write_atomic(path: Path, payload: bytes) -> None:
    """Write `payload` to `path` so that readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def encode_state(sources: dict[str, dict[str, Any]]) -> bytes:
    """`sources`: {source: {"format": name, "miner": TemplateMiner.to_state(), "kb": ...}}."""
    return orjson.dumps({"kind": STATE_KIND, "version": STATE_VERSION, "saved_at": time.time(), "sources": sources})


def restore_state(handler: PersistenceHandler) -> dict[str, dict[str, Any]]:
    """The saved sources, or {} (with a warning, and the bad state set aside, unless nothing was saved)."""
    try:
        payload = handler.load_state()
    except OSError as exc:
        return _reject(handler, f"unreadable ({exc})")
    if payload is None:
        return {}
    try:
        blob = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return _reject(handler, f"unreadable ({exc})")
    if not isinstance(blob, dict) or blob.get("kind") != STATE_KIND:
        return _reject(handler, "not a logai parser state")
    if blob.get("version") != STATE_VERSION:
        return _reject(handler, f"version {blob.get('version')!r}, this logai reads version {STATE_VERSION}")
    sources = blob.get("sources")
    if not isinstance(sources, dict):
        return _reject(handler, "no 'sources' mapping")
    return sources


def save_state(path: Path, sources: dict[str, dict[str, Any]]) -> None:
    FilePersistence(path).save_state(encode_state(sources))


def load_state(path: Path, set_aside: bool = True) -> dict[str, dict[str, Any]]:
    return restore_state(FilePersistence(path, keep_bad=set_aside))


def _reject(handler: PersistenceHandler, why: str) -> dict[str, dict[str, Any]]:
    where = getattr(handler, "path", handler)
    log.warning("parser state %s is %s; starting with fresh templates (old state kept at %s)", where, why,
                handler.set_aside())
    return {}
