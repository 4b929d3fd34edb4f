"""Walking protobuf's wire format without decoding messages, so a 10 MB batch is never held as a decoded
message tree (about five times its size): the doors count records and frame them in one pass over the
bytes, then decode each record, alone, as it is ingested.

Only what the walk needs: varints and length-delimited fields (the maintained message classes decode every
record). A length or varint that runs past its message raises `WireError`.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """The bytes are not a well-formed protobuf message."""


def _varint(data: memoryview, position: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while position < end:
        byte = data[position]
        position += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, position
        shift += 7
        if shift > 63:
            raise WireError("varint longer than 10 bytes")
    raise WireError("truncated varint")


def fields(data: memoryview, start: int = 0, end: int | None = None) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, start, end) of each field of the message in `data[start:end]`; for a
    length-delimited field, start and end bound its bytes."""
    end = len(data) if end is None else end
    position = start
    while position < end:
        tag, position = _varint(data, position, end)
        number, kind = tag >> 3, tag & 7
        if number == 0:
            raise WireError("field number 0")
        if kind == VARINT:
            _, after = _varint(data, position, end)
        elif kind == FIXED64:
            after = position + 8
        elif kind == FIXED32:
            after = position + 4
        elif kind == LENGTH:
            size, position = _varint(data, position, end)
            after = position + size
        else:
            raise WireError(f"unsupported wire type {kind} (groups)")
        if after > end:
            raise WireError("field runs past the end of its message")
        yield number, kind, position, after
        position = after


class Spans:
    """(start, end) of many fields, as two compact arrays: 16 bytes a record, not a tuple each."""

    def __init__(self) -> None:
        self.starts, self.ends = array("q"), array("q")

    def __len__(self) -> int:
        return len(self.starts)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self.starts, self.ends, strict=True)


def spans(data: memoryview, start: int, end: int, number: int) -> Spans:
    """Where every length-delimited field `number` of the message in `data[start:end]` lies."""
    found = Spans()
    for n, kind, s, e in fields(data, start, end):
        if n == number and kind == LENGTH:
            found.starts.append(s)
            found.ends.append(e)
    return found


def joined(data: memoryview, start: int, end: int, number: int) -> bytes:
    """The bytes of every occurrence of field `number`, concatenated: parsed, they give exactly the message
    protobuf would (occurrences of a singular message field merge); empty when absent."""
    return b"".join(data[s:e] for s, e in spans(data, start, end, number))
