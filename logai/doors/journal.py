"""systemd's Journal Export Format, to `Record`s: what `systemd-journal-upload` sends and `journalctl -o export`
writes.

So that a host ships its journal with `systemd-journal-upload --url=http://logai:8000` (it posts to `/upload`,
as it would to `systemd-journal-remote`). The format (https://systemd.io/JOURNAL_EXPORT_FORMATS/): entries
are separated by an empty line; a field is `NAME=value` on one line, or, where the value is binary or spans
lines, `NAME`, a newline, the value's size as a little-endian 64-bit integer, the bytes and a newline.

`MESSAGE` is the content, `PRIORITY` the level (syslog severity), `__REALTIME_TIMESTAMP` (µs) the time; the
source is the first of `journal.source_fields` present (`SYSLOG_IDENTIFIER`, `_SYSTEMD_UNIT`, `_COMM`); the other
fields are kept, except the `__` metadata. The framing of the whole body is checked before anything is
stored: a body that breaks it is refused with the byte where it breaks. An entry without a message or with
a bad timestamp is kept as a dead letter. Keys hash the entry's `__CURSOR` (unique in its journal) or, when
the sender gave none, the entry's bytes, so an upload that is retried is stored once.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from typing import BinaryIO

from logai.doors.batch import DoorBatch, Rejected
from logai.doors.bodies import BadBody, nanos_to_iso
from logai.doors.keys import RecordKeys
from logai.events import Record
from logai.parsing.headers import level_from_syslog_pri

CONTENT_TYPE = "application/vnd.fdo.journal"
MAX_FIELD_CHARS = 4096  # a field kept beside the message (command lines and the like are cut here)
_NAME = re.compile(rb"[A-Z0-9_]+")


def entry_fields(entry: bytes) -> dict[str, str]:
    """One entry's fields, decoded (invalid UTF-8 as `\\xNN` escapes); a repeated field keeps its first value."""
    fields: dict[str, str] = {}
    pos, size = 0, len(entry)
    while pos < size:
        eol = entry.find(b"\n", pos)
        eol = size if eol < 0 else eol
        equals = entry.find(b"=", pos, eol)
        if equals >= 0:
            name, value, pos = entry[pos:equals], entry[equals + 1 : eol], eol + 1
        else:  # binary: NAME\n, 64-bit LE size, data, \n (read_entries checked the sizes)
            end = eol + 9 + int.from_bytes(entry[eol + 1 : eol + 9], "little")
            name, value, pos = entry[pos:eol], entry[eol + 9 : end], end + 1
        fields.setdefault(name.decode("ascii", "replace"), value.decode("utf-8", "backslashreplace"))
    return fields


def read_upload(body: bytes, *, default_source: str, source_fields: Sequence[str]) -> DoorBatch:
    """A Journal Export Format body as a batch of records: the framing of the whole body is checked by a first
    pass (BadBody before anything is stored), and the records are made by a second as they are ingested."""
    count = sum(1 for _ in read_entries(io.BytesIO(body)))
    return DoorBatch(count, (item for _, item in read_records(io.BytesIO(body), default_source, source_fields)))


def read_records(stream: BinaryIO, default_source: str, source_fields: Sequence[str]
                 ) -> Iterator[tuple[int, Record | Rejected]]:
    """(byte offset, `Record` or `Rejected`) for each entry of an export stream, one at a time; BadBody where the
    framing breaks. Keys are unique within the stream (`RecordKeys`)."""
    keys = RecordKeys("journal")
    for offset, entry in read_entries(stream):
        yield offset, entry_record(entry, keys, default_source, source_fields)


def entry_record(entry: bytes, keys: RecordKeys, default_source: str, source_fields: Sequence[str]
                 ) -> Record | Rejected:
    """One entry as a `Record`, or `Rejected` (kept as a dead letter) without a message or a readable time."""
    fields = entry_fields(entry)
    source = next((fields[name] for name in source_fields if fields.get(name)), default_source)[:256]
    message = fields.pop("MESSAGE", None)
    if message is None:
        return Rejected(source, entry, "journal entry without a MESSAGE field")
    realtime = fields.get("__REALTIME_TIMESTAMP")
    try:
        nanos = int(realtime) * 1000 if realtime else 0
        timestamp = nanos_to_iso(nanos) if realtime else None
    except ValueError:
        return Rejected(source, entry, f"bad __REALTIME_TIMESTAMP {realtime!r}")
    key = keys.key(nanos, fields["__CURSOR"]) if fields.get("__CURSOR") else keys.key(nanos, entry)
    priority = fields.get("PRIORITY")
    kept = {name: value[:MAX_FIELD_CHARS] for name, value in fields.items() if not name.startswith("__")}
    return Record(source=source, content=message, key=key, timestamp=timestamp, fields=kept,
                  level=level_from_syslog_pri(priority) if priority else None)


def read_entries(stream: BinaryIO) -> Iterator[tuple[int, bytes]]:
    """(byte offset, entry) for each entry of an export stream (`journalctl -o export > file`), one at a time;
    BadBody where the framing breaks."""
    offset = start = 0
    entry = bytearray()
    while line := stream.readline():
        if line == b"\n":
            if entry:
                yield start, bytes(entry)
            entry.clear()
            offset += 1
            start = offset
            continue
        if not line.endswith(b"\n"):
            raise BadBody(f"journal export: the field at byte {offset} does not end with a newline")
        entry += line
        offset += len(line)
        if b"=" not in line:  # a binary field: its size, its bytes and a newline follow
            if not _NAME.fullmatch(line[:-1]):
                raise BadBody(f"journal export: line at byte {offset - len(line)} is neither NAME=value nor a "
                              "binary field name")
            size = stream.read(8)
            if len(size) < 8:
                raise BadBody(f"journal export: binary field {line[:-1].decode()} at byte {offset - len(line)} "
                              "has no size")
            data = stream.read(int.from_bytes(size, "little") + 1)
            if not data.endswith(b"\n") or len(data) != int.from_bytes(size, "little") + 1:
                raise BadBody(f"journal export: binary field {line[:-1].decode()} at byte {offset - len(line)} "
                              "runs past its size")
            entry += size + data
            offset += 8 + len(data)
    if entry:
        yield start, bytes(entry)
