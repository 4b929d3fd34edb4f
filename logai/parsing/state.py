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


def load_state(path: Path, set_aside: bool = True) -> dict[str, dict[str, Any]]:
    """The saved sources, or {} (with a warning unless the file simply does not exist yet).

    A bad file is renamed to `<name>.bad` so the next save does not overwrite it, unless `set_aside`
    is False (read-only callers such as `logai templates`).
    """
    try:
        blob = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as exc:
        return _reject(path, f"unreadable ({exc})", set_aside)
    if not isinstance(blob, dict) or blob.get("kind") != STATE_KIND:
        return _reject(path, "not a logai parser state file", set_aside)
    if blob.get("version") != STATE_VERSION:
        return _reject(path, f"version {blob.get('version')!r}, this logai reads version {STATE_VERSION}", set_aside)
    sources = blob.get("sources")
    if not isinstance(sources, dict):
        return _reject(path, "no 'sources' mapping", set_aside)
    return sources


def _reject(path: Path, why: str, set_aside: bool) -> dict[str, dict[str, Any]]:
    kept = path
    if set_aside:
        kept = path.with_name(path.name + ".bad")
        try:
            os.replace(path, kept)
        except OSError:
            kept = path
    log.warning("parser state %s is %s; starting with fresh templates (old file kept at %s)", path, why, kept)
    return {}
