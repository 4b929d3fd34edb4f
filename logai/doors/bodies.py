"""Request bodies of the shipper doors: capped decompression, content-hash ingest keys, time conversion.

Shippers retry whole batches, and Loki and OTLP carry no delivery id, so a record's ingest key is a hash of
what identifies it (stream labels, time, message, attributes). The same record delivered twice gets the same
key and is stored once; identical records within one request are told apart by their occurrence number.
Keys start with the record's time, so they arrive roughly in order: the store's unique index on them takes
ordered keys about a third faster than random hashes.
"""

from __future__ import annotations

import zlib
from array import array
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TypeVar, overload

from logai.doors.keys import ingest_key

T = TypeVar("T")


class BadBody(ValueError):
    """The body cannot be decoded: answered 400 with this message; nothing of it is stored."""


class BodyTooLarge(ValueError):
    """The body, or what it decompresses to, is over the configured limit: answered 413."""


class _OnDemand(Sequence[T]):
    """A sequence whose items are made when asked for (`_make(i)` for 0 <= i < len), slices as lists."""

    def _make(self, index: int) -> T:
        raise NotImplementedError

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return [self._make(i) for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._make(index)


class BodyLines(_OnDemand[bytes]):
    """The lines of a body (split on `\n`, a trailing `\r` dropped, no empty last line), made on demand from
    line offsets: a 10 MB body of short lines is not also held as 100,000 bytes objects while it is ingested."""

    def __init__(self, body: bytes):
        self.body = body
        starts = array("q", [0])
        find, position = body.find, 0
        while (position := find(b"\n", position) + 1) > 0:
            starts.append(position)
        if starts[-1] != len(body):
            starts.append(len(body) + 1)  # the last line has no newline
        self.starts = starts

    def __len__(self) -> int:
        return len(self.starts) - 1

    def _make(self, index: int) -> bytes:
        line = self.body[self.starts[index]: self.starts[index + 1] - 1]
        return line[:-1] if line.endswith(b"\r") else line


class RequestKeys(_OnDemand[str]):
    """`<door>:<request>|<line number>` ingest keys of one request, made on demand (contiguous in the key index)."""

    def __init__(self, door: str, request: str, count: int):
        self.door, self.request, self.size = door, request, count

    def __len__(self) -> int:
        return self.size

    def _make(self, index: int) -> str:
        return ingest_key(self.door, self.request, index)


def too_large_detail(exc: BodyTooLarge) -> str:
    """The 413 message, naming the setting that set the limit."""
    text = str(exc)
    return text if "(api." in text else f"{text} (api.max_request_bytes)"


def check_count(count: int, limit: int) -> None:
    """BodyTooLarge when one request carries more than `limit` lines or records (`api.max_lines_per_request`):
    a 1 MB body of newlines is a million events, and the whole request would be held in memory at once."""
    if count > limit:
        raise BodyTooLarge(f"{count} lines or records in one request, over {limit} (api.max_lines_per_request)")


def decompress(body: bytes, encoding: str | None, limit: int) -> bytes:
    """Undo `Content-Encoding` (gzip, deflate or none) without ever holding more than `limit` bytes."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("identity", ""):
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise BadBody(f"unsupported Content-Encoding {encoding!r}: send gzip, deflate or none")
    inflater = zlib.decompressobj(wbits=47)  # 32 + 15: gzip or zlib header, detected
    try:
        out = inflater.decompress(body, limit + 1)
        if len(out) > limit or inflater.unconsumed_tail:
            raise BodyTooLarge(f"body decompresses to more than {limit} bytes")
        out += inflater.flush()
    except zlib.error as exc:
        raise BadBody(f"body is not valid {encoding}: {exc}") from exc
    if not inflater.eof:
        raise BadBody(f"body is truncated {encoding}")
    if len(out) > limit:
        raise BodyTooLarge(f"body decompresses to more than {limit} bytes")
    return out


def nanos_to_iso(nanos: int) -> str:
    """Unix nanoseconds to ISO 8601 (microseconds kept); ValueError when out of datetime's range."""
    try:
        return datetime.fromtimestamp(nanos / 1e9, UTC).isoformat()
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError(f"timestamp {nanos} ns is out of range") from exc
