"""Loki push (`POST /loki/api/v1/push`): JSON or snappy-compressed protobuf `PushRequest`s, to `Record`s.

So that Grafana Alloy's `loki.write`, Fluent Bit's `loki` output, Vector's `loki` sink and Promtail can send a
copy to logai by changing a URL. Stream labels and structured metadata become fields; the first configured
label present (`service_name`, `job`, `app`) names the source; `X-Scope-OrgID` is kept as the `tenant`
field. A line that carries its own header (JSON, or a leading time and level) is split by the format
parsers; the entry's timestamp stays the event time. Keys hash tenant, labels, time and line, which is
also how Loki itself drops a re-sent entry.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cramjam
import orjson
from google.protobuf.message import DecodeError

from logai.doors.batch import DoorBatch, Rejected
from logai.doors.bodies import BadBody, BodyTooLarge, RecordKeys, nanos_to_iso
from logai.doors.loki_proto import PushRequest
from logai.events import Record
from logai.ingest.formats import FormatRegistry
from logai.ingest.headers import HeaderParser, header_parser_for, normalize_level

_LABEL = re.compile(r'\s*([A-Za-z_][\w.]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n", "\\t": "\t"}
_LEVEL_LABELS = ("level", "detected_level", "severity", "lvl", "loglevel")


@dataclass
class Stream:
    labels: dict[str, str]
    entries: list[tuple[Any, str, dict[str, str]]]  # (timestamp in ns, as sent; line; structured metadata)


def parse_labels(text: str) -> dict[str, str]:
    """A Prometheus label set, `{app="api", env="prod"}`, as a dict; BadBody when it is not one."""
    inner = text.strip()
    if not (inner.startswith("{") and inner.endswith("}")):
        raise BadBody(f"stream labels {text!r} are not a {{name=\"value\", ...}} set")
    inner, labels, position = inner[1:-1], {}, 0
    while position < len(inner) and not inner[position:].isspace():
        match = _LABEL.match(inner, position)
        if match is None:
            raise BadBody(f"stream labels {text!r}: cannot read a label at {inner[position:position + 20]!r}")
        labels[match.group(1)] = re.sub(r"\\.", lambda m: _ESCAPES.get(m.group(0), m.group(0)), match.group(2))
        position = match.end()
    return labels


def decode_push(body: bytes, content_type: str, limit: int) -> list[Stream]:
    """The streams of a push body: protobuf (snappy block-compressed, as every Loki client sends it) or JSON."""
    if content_type == "application/x-protobuf":
        return _decode_protobuf(body, limit)
    if content_type not in ("application/json", ""):
        raise BadBody(f"unsupported Content-Type {content_type!r}: send application/json or application/x-protobuf")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadBody(f"not valid JSON: {exc}") from exc
    streams = data.get("streams") if isinstance(data, dict) else None
    if not isinstance(streams, list):
        raise BadBody('a push body is {"streams": [{"stream": {labels}, "values": [["<ns>", "line"], ...]}]}')
    out = []
    for number, stream in enumerate(streams):
        labels = stream.get("stream") if isinstance(stream, dict) else None
        values = stream.get("values") if isinstance(stream, dict) else None
        if not isinstance(labels, dict) or not isinstance(values, list):
            raise BadBody(f"streams[{number}] needs a 'stream' object and a 'values' list")
        entries = []
        for value in values:
            if (not isinstance(value, list) or len(value) not in (2, 3) or not isinstance(value[1], str)
                    or (len(value) == 3 and not isinstance(value[2], dict))):
                raise BadBody(f"streams[{number}].values: each value is [\"<unix ns>\", \"line\"(, {{metadata}})]")
            metadata = {str(k): str(v) for k, v in value[2].items()} if len(value) == 3 else {}
            entries.append((value[0], value[1], metadata))
        out.append(Stream({str(k): str(v) for k, v in labels.items()}, entries))
    return out


def _decode_protobuf(body: bytes, limit: int) -> list[Stream]:
    try:
        size = cramjam.snappy.decompress_raw_len(body)
    except Exception as exc:
        raise BadBody(f"not a snappy-compressed PushRequest: {exc}") from exc
    if size > limit:
        raise BodyTooLarge(f"body decompresses to more than {limit} bytes")
    try:
        raw = bytes(cramjam.snappy.decompress_raw(body))
        request = PushRequest.FromString(raw)
    except DecodeError as exc:
        raise BadBody(f"not a valid PushRequest protobuf: {exc}") from exc
    except Exception as exc:  # cramjam raises its own error types for corrupt input
        raise BadBody(f"not a snappy-compressed PushRequest: {exc}") from exc
    out = []
    for stream in request.streams:
        entries = [(entry.timestamp.seconds * 1_000_000_000 + entry.timestamp.nanos, entry.line,
                    {pair.name: pair.value for pair in entry.structuredMetadata}) for entry in stream.entries]
        out.append(Stream(parse_labels(stream.labels), entries))
    return out


def line_parsers(registry: FormatRegistry, line_format: str) -> tuple[str, list[HeaderParser]]:
    """The format whose miner settings the lines get, and the header parsers tried on each line, in order:
    `auto` tries JSON, then the generic time-and-level sniffer."""
    names = ["json", "generic"] if line_format == "auto" else [line_format]
    return names[-1], [header_parser_for(registry.get(name)) for name in names]


def to_records(streams: Sequence[Stream], *, source_labels: Sequence[str], default_source: str,
               tenant: str | None, line_parsers: Sequence[HeaderParser]) -> DoorBatch:
    """Every entry as a `Record`; entries with an unreadable timestamp are rejected one by one."""
    batch = DoorBatch()
    keys = RecordKeys("loki")
    for stream in streams:
        labels = dict(stream.labels)
        if tenant:
            labels["tenant"] = tenant
        source = next((labels[name] for name in source_labels if labels.get(name)), default_source)
        label_key = orjson.dumps(labels, option=orjson.OPT_SORT_KEYS)
        for ts, line, metadata in stream.entries:
            try:
                nanos = int(ts)
                timestamp = nanos_to_iso(nanos)
            except (TypeError, ValueError):
                batch.rejected.append(Rejected(source, orjson.dumps([ts, line, metadata]), f"bad timestamp {ts!r}"))
                continue
            fields, content, level = _split(line, line_parsers)
            fields.update(labels)
            fields.update(metadata)
            level = next((normalize_level(fields[n]) for n in _LEVEL_LABELS if fields.get(n)), None) or level
            batch.records.append(Record(source=source, content=content, raw=line, timestamp=timestamp,
                                        level=level, fields=fields, key=keys.key(nanos, label_key, line)))
    return batch


def _split(line: str, parsers: Sequence[HeaderParser]) -> tuple[dict[str, str], str, str | None]:
    for parser in parsers:
        header = parser.split(line)
        if header is not None:
            fields, content, _, level = header
            return dict(fields), content, level
    return {}, line, None
