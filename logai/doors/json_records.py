"""JSON bodies from shippers (Fluent Bit, Vector, any HTTP output) on `/v1/ingest`, to `Record`s.

Takes a JSON array of objects or JSON lines, and reads each record's source from a field of its own when
`source_field` is given (one request may carry many services). A multi-line message (a stack trace in one
JSON string) stays one event. A line that is not a JSON object is kept whole, flagged `no_header`.
"""

from __future__ import annotations

import orjson

from logai.doors.bodies import BadBody
from logai.events import FLAG_NO_HEADER, Record
from logai.ingest.headers import HeaderParser
from logai.ingest.lines import decode_line


def json_records(body: bytes, *, parser: HeaderParser, default_source: str, source_field: str | None,
                 request_id: str) -> list[Record]:
    """`request_id`: a hex digest that names the request (`doors.bodies.digest` of the client's key)."""
    if body.lstrip()[:1] == b"[":
        try:
            items = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadBody(f"not a valid JSON array: {exc}") from exc
        lines = [orjson.dumps(item).decode() for item in items]
    else:
        lines = [decode_line(line.rstrip(b"\r"))[0] for line in body.split(b"\n") if line.strip()]
    records = []
    for number, line in enumerate(lines):
        key = f"http:{request_id[:32]}:{number:08d}"  # one request's keys are contiguous in the store's index
        header = parser.split(line)
        if header is None:
            records.append(Record(source=default_source, content=line, raw=line, key=key, flags=[FLAG_NO_HEADER]))
            continue
        fields, content, timestamp, level = header
        source = (fields.get(source_field) if source_field else None) or default_source
        records.append(Record(source=source, content=content, raw=line, key=key, timestamp=timestamp, level=level,
                              fields=fields))
    return records
