"""JSON bodies from shippers (Fluent Bit, Vector, any HTTP output) on `/v1/ingest`, to `Record`s.

Takes a JSON array of objects or JSON lines, and reads each record's source from a field of its own when
`source_field` is given (one request may carry many services). A multi-line message (a stack trace in one
JSON string) stays one event. A line that is not a JSON object is kept whole, flagged `no_header`. An array
is read twice, streamed (`json_stream`): once to check and count it, once to make its records as they are
ingested; JSON lines are cut from the body on demand (`BodyLines`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import orjson

from logai.doors.bodies import BodyLines
from logai.doors.json_stream import count_items, items
from logai.doors.keys import ingest_key
from logai.events import FLAG_NO_HEADER, Record
from logai.parsing.headers import HeaderParser
from logai.parsing.lines import decode_line


def json_records(body: bytes, *, parser: HeaderParser, default_source: str, source_field: str | None,
                 request_id: str) -> tuple[int, Iterator[Record]]:
    """How many records the body holds, and the records, made as they are pulled. `request_id`: a hex digest
    that names the request (`doors.bodies.digest` of the client's key). A body that is not a valid JSON
    array is refused whole (BadBody) before any record is made."""
    if body.lstrip()[:1] == b"[":
        count = count_items(body, "item", "a JSON array of records")
        lines: Iterable[str] = (orjson.dumps(item).decode() for item in items(body, "item"))
    else:
        body_lines = BodyLines(body)
        count = len(body_lines)
        lines = (decode_line(line)[0] for line in body_lines)
    return count, _records(lines, parser, default_source, source_field, request_id[:32])


def _records(lines: Iterable[str], parser: HeaderParser, default_source: str, source_field: str | None,
             request: str) -> Iterator[Record]:
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        key = ingest_key("http", request, number)  # one request's keys are contiguous in the store's index
        header = parser.split(line)
        if header is None:
            yield Record(source=default_source, content=line, raw=line, key=key, flags=[FLAG_NO_HEADER])
            continue
        fields, content, timestamp, level = header
        source = (fields.get(source_field) if source_field else None) or default_source
        yield Record(source=source, content=content, raw=line, key=key, timestamp=timestamp, level=level,
                     fields=fields)
