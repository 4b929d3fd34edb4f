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
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import cramjam
import orjson
from google.protobuf.message import DecodeError

from logai.doors import json_stream, protowire
from logai.doors.batch import DoorBatch, Rejected
from logai.doors.bodies import BadBody, BodyTooLarge, nanos_to_iso
from logai.doors.keys import RecordKeys
from logai.doors.loki_proto import EntryAdapter
from logai.events import Record
from logai.parsing.formats import FormatRegistry
from logai.parsing.headers import HeaderParser, header_parser_for, normalize_level

_LABEL = re.compile(r'\s*([A-Za-z_][\w.]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n", "\\t": "\t"}
_LEVEL_LABELS = ("level", "detected_level", "severity", "lvl", "loglevel")


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


def read_push(body: bytes, content_type: str, limit: int, *, source_labels: Sequence[str], default_source: str,
              tenant: str | None, line_parsers: Sequence[HeaderParser]) -> DoorBatch:
    """The entries of a push body as a lazy `DoorBatch`: protobuf (snappy block-compressed, as every Loki
    client sends it) is walked on the wire and JSON streamed, both checked and counted in a first pass, and
    each entry is made as it is ingested. BadBody names what is wrong; nothing is stored when it is raised."""
    if content_type == "application/x-protobuf":
        data = memoryview(_decompress(body, limit))
        labels, spans = _protobuf_streams(data)
        count = sum(len(found) for found in spans)
        entries: Iterable[_Entry] = (_entry(number, EntryAdapter.FromString(data[s:e]))
                                     for number, found in enumerate(spans) for s, e in found)
    elif content_type in ("application/json", ""):
        groups = json_stream.scan(body, levels=("streams.item",), headers={"stream": "streams.item.stream"},
                                  item="streams.item.values.item", check=_JsonPushShape(), what="a Loki push")
        labels = [_stream_labels(number, group.header("stream")) for number, group in enumerate(groups)]
        count = sum(group.count for group in groups)
        entries = _json_entries(body, [group.count for group in groups])
    else:
        raise BadBody(f"unsupported Content-Type {content_type!r}: send application/json or application/x-protobuf")
    return DoorBatch(count, _records(entries, labels, source_labels=source_labels, default_source=default_source,
                                     tenant=tenant, line_parsers=line_parsers))


_Entry = tuple[int, Any, str, dict[str, str]]  # (stream number, timestamp in ns as sent, line, structured metadata)
_PUSH_SHAPE = 'a push body is {"streams": [{"stream": {labels}, "values": [["<ns>", "line"], ...]}]}'
_VALUE_SHAPE = 'streams[].values: each value is ["<unix ns>", "line"(, {metadata})]'


class _JsonPushShape:
    """Checks, event by event, that a JSON push is shaped as Loki's documentation says."""

    VALUE, ELEMENT = "streams.item.values.item", "streams.item.values.item.item"
    STARTS = ("start_map", "start_array", "string", "number", "boolean", "null")

    def __init__(self) -> None:
        self.elements = 0

    def __call__(self, prefix: str, event: str, value: Any) -> None:
        if prefix in ("", "streams", "streams.item", "streams.item.values") and event in self.STARTS:
            expected = {"": "start_map", "streams": "start_array", "streams.item": "start_map",
                        "streams.item.values": "start_array"}[prefix]
            if event != expected:
                raise BadBody(_PUSH_SHAPE)
        elif prefix == self.VALUE:
            if event == "start_array":
                self.elements = 0
            elif event == "end_array":
                if self.elements not in (2, 3):
                    raise BadBody(_VALUE_SHAPE)
            elif event in self.STARTS:
                raise BadBody(_VALUE_SHAPE)
        elif prefix == self.ELEMENT and event in self.STARTS:
            self.elements += 1
            if (self.elements == 2 and event != "string") or (self.elements == 3 and event != "start_map"):
                raise BadBody(_VALUE_SHAPE)


def _stream_labels(number: int, labels: Any) -> dict[str, str]:
    if not isinstance(labels, dict):
        raise BadBody(f"streams[{number}] needs a 'stream' object and a 'values' list")
    return {str(k): str(v) for k, v in labels.items()}


def _json_entries(body: bytes, counts: list[int]) -> Iterator[_Entry]:
    values = json_stream.items(body, "streams.item.values.item", "a Loki push")
    for number, count in enumerate(counts):
        for _ in range(count):
            value = next(values)
            metadata = {str(k): str(v) for k, v in value[2].items()} if len(value) == 3 else {}
            yield number, value[0], value[1], metadata


def _decompress(body: bytes, limit: int) -> bytes:
    try:
        size = cramjam.snappy.decompress_raw_len(body)
    except Exception as exc:
        raise BadBody(f"not a snappy-compressed PushRequest: {exc}") from exc
    if size > limit:
        raise BodyTooLarge(f"body decompresses to more than {limit} bytes")
    try:
        return bytes(cramjam.snappy.decompress_raw(body))
    except Exception as exc:  # cramjam raises its own error types for corrupt input
        raise BadBody(f"not a snappy-compressed PushRequest: {exc}") from exc


def _protobuf_streams(data: memoryview) -> tuple[list[dict[str, str]], list[protowire.Spans]]:
    """Each stream's labels and where its entries lie, every entry checked (decoded and dropped): a malformed
    push is refused before anything is stored, and the request never holds the decoded message tree."""
    labels, spans = [], []
    try:
        for start, end in protowire.spans(data, 0, len(data), 1):  # streams
            texts = protowire.spans(data, start, end, 1)  # labels: a string, the last one counts
            text = bytes(data[texts.starts[-1]:texts.ends[-1]]).decode("utf-8") if len(texts) else ""
            found = protowire.spans(data, start, end, 2)  # entries
            for s, e in found:
                EntryAdapter.FromString(data[s:e])
            labels.append(parse_labels(text))
            spans.append(found)
    except (protowire.WireError, DecodeError, UnicodeDecodeError) as exc:
        raise BadBody(f"not a valid PushRequest protobuf: {exc}") from exc
    return labels, spans


def _entry(number: int, entry: Any) -> _Entry:
    return (number, entry.timestamp.seconds * 1_000_000_000 + entry.timestamp.nanos, entry.line,
            {pair.name: pair.value for pair in entry.structuredMetadata})


def line_parsers(registry: FormatRegistry, line_format: str) -> tuple[str, list[HeaderParser]]:
    """The format whose miner settings the lines get, and the header parsers tried on each line, in order:
    `auto` tries JSON, then the generic time-and-level sniffer."""
    names = ["json", "generic"] if line_format == "auto" else [line_format]
    return names[-1], [header_parser_for(registry.get(name)) for name in names]


def _records(entries: Iterable[_Entry], labels: list[dict[str, str]], *, source_labels: Sequence[str],
             default_source: str, tenant: str | None, line_parsers: Sequence[HeaderParser]
             ) -> Iterator[Record | Rejected]:
    """Every entry as a `Record`; one with an unreadable timestamp as `Rejected`."""
    keys = RecordKeys("loki")
    current = -1
    for number, ts, line, metadata in entries:
        if number != current:  # once per stream
            current, stream_labels = number, dict(labels[number])
            if tenant:
                stream_labels["tenant"] = tenant
            source = next((stream_labels[name] for name in source_labels if stream_labels.get(name)), default_source)
            label_key = orjson.dumps(stream_labels, option=orjson.OPT_SORT_KEYS)
        try:
            nanos = int(ts)
            timestamp = nanos_to_iso(nanos)
        except (TypeError, ValueError):
            yield Rejected(source, orjson.dumps([ts, line, metadata]), f"bad timestamp {ts!r}")
            continue
        fields, content, level = _split(line, line_parsers)
        fields.update(stream_labels)
        fields.update(metadata)
        level = next((normalize_level(fields[n]) for n in _LEVEL_LABELS if fields.get(n)), None) or level
        yield Record(source=source, content=content, raw=line, timestamp=timestamp, level=level, fields=fields,
                     key=keys.key(nanos, label_key, line))


def _split(line: str, parsers: Sequence[HeaderParser]) -> tuple[dict[str, str], str, str | None]:
    for parser in parsers:
        header = parser.split(line)
        if header is not None:
            fields, content, _, level = header
            return dict(fields), content, level
    return {}, line, None
