"""Turning raw bytes into lines without losing any: bad UTF-8 is escaped and flagged, never dropped."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from logai.events import FLAG_INVALID_UTF8, FLAG_NUL_BYTES


def decode_line(raw: bytes) -> tuple[str, list[str]]:
    """Decode one line (without its newline). Invalid bytes become `\\xNN` escapes and set a flag."""
    flags: list[str] = []
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("utf-8", "backslashreplace")
        flags.append(FLAG_INVALID_UTF8)
    if "\x00" in text:
        flags.append(FLAG_NUL_BYTES)
    return text, flags


def iter_lines(stream: Iterable[bytes]) -> Iterator[tuple[int, int, bytes]]:
    """Yield (1-based line number, byte offset, line without CR/LF) for every line of a binary stream."""
    offset = 0
    for number, raw in enumerate(stream, start=1):
        size = len(raw)
        if raw.endswith(b"\n"):
            raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        elif raw.endswith(b"\r"):
            raw = raw[:-1]
        yield number, offset, raw
        offset += size


def sample_lines(path: Path, count: int = 200) -> list[bytes]:
    """The first `count` lines of a file (without CR/LF), for format detection."""
    with path.open("rb") as handle:
        return [raw for _, _, raw in islice(iter_lines(handle), count)]
