"""Persisting miner state: one versioned JSON file, written atomically, never pickled.

A state file that is missing starts fresh silently; one that is corrupt, of another version or of
another kind starts fresh with a clear warning, and the bad file is kept beside it for inspection.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger(__name__)

STATE_KIND = "logai-parser-state"
STATE_VERSION = 1


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


def save_state(path: Path, sources: dict[str, dict[str, Any]]) -> None:
    """`sources`: {source: {"format": name, "miner": TemplateMiner.to_state()}}."""
    blob = {"kind": STATE_KIND, "version": STATE_VERSION, "saved_at": time.time(), "sources": sources}
    write_atomic(path, orjson.dumps(blob))


def load_state(path: Path) -> dict[str, dict[str, Any]]:
    """The saved sources, or {} (with a warning unless the file simply does not exist yet)."""
    try:
        blob = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as exc:
        _set_aside(path, f"unreadable ({exc})")
        return {}
    if not isinstance(blob, dict) or blob.get("kind") != STATE_KIND:
        _set_aside(path, "not a logai parser state file")
        return {}
    if blob.get("version") != STATE_VERSION:
        _set_aside(path, f"version {blob.get('version')!r}, this logai reads version {STATE_VERSION}")
        return {}
    sources = blob.get("sources")
    if not isinstance(sources, dict):
        _set_aside(path, "no 'sources' mapping")
        return {}
    return sources


def _set_aside(path: Path, why: str) -> None:
    kept = path.with_name(path.name + ".bad")
    try:
        os.replace(path, kept)
    except OSError:
        kept = path
    log.warning("parser state %s is %s; starting with fresh templates (old file kept at %s)", path, why, kept)
