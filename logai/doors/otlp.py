"""OTLP/HTTP logs (`POST /v1/logs`): `ExportLogsServiceRequest` in protobuf or proto3 JSON, to `Record`s.

Decoding uses the maintained `opentelemetry-proto` messages. Mapping, per the OTLP logs data model:
resource `service.name` (or the first configured attribute present) -> source; severity text, else
severity number -> level; `time_unix_nano`, else `observed_time_unix_nano` -> timestamp; a string body ->
content, any other body -> its JSON; resource, scope and record attributes -> fields (the record's win);
`trace_id` / `span_id` -> fields `trace_id` / `span_id` in hex. A record that cannot be mapped (a time out
of range) is rejected alone and reported in `partial_success`.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from logai.doors import json_stream, protowire
from logai.doors.batch import DoorBatch, Rejected
from logai.doors.bodies import BadBody, nanos_to_iso
from logai.doors.keys import RecordKeys
from logai.events import Record
from logai.parsing.headers import normalize_level

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# OTLP severity numbers, ranges of four: TRACE 1-4, DEBUG 5-8, INFO 9-12, WARN 13-16, ERROR 17-20, FATAL 21-24
_SEVERITY_RANGES = ("TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def read_request(body: bytes, content_type: str, *, source_attributes: list[str], default_source: str
                 ) -> DoorBatch:
    """The body's log records as a lazy `DoorBatch`: protobuf is walked on the wire and JSON streamed, both
    checked and counted in a first pass, and each record is decoded alone as it is ingested.
    BadBody names what is wrong; nothing is stored when it is raised."""
    if content_type == PROTOBUF:
        data = memoryview(body)
        frames = _protobuf_frames(data)
        count = sum(len(records) for _, _, records in frames)
        triples: Iterable[_Triple] = ((resource, scope, bytes(data[s:e])) for resource, scope, records in frames
                                      for s, e in records)
    else:
        names = _SNAKE if b'"resource_logs"' in body else _CAMEL
        if not body.strip():
            body = b"{}"
        groups = json_stream.scan(body, levels=(names[0], names[1]), headers={"resource": names[2], "scope": names[3]},
                                  item=names[4], check=_check_hex_ids, what="an ExportLogsServiceRequest")
        count = sum(group.count for group in groups)
        triples = _json_triples(body, [_frames(group) for group in groups], names[4])
    return DoorBatch(count, _records(triples, source_attributes, default_source))


_Triple = tuple[Resource, InstrumentationScope, "bytes | dict[str, Any]"]  # a record: protobuf or OTLP/JSON


def _protobuf_frames(data: memoryview) -> list[tuple[Resource, InstrumentationScope, protowire.Spans]]:
    """Each scope's resource and scope, decoded, and where its log records lie: one pass over the bytes that
    checks every length, so a truncated or malformed body is refused before anything is stored."""
    frames = []
    try:
        for resource_start, resource_end in protowire.spans(data, 0, len(data), 1):  # resource_logs
            resource = Resource.FromString(protowire.joined(data, resource_start, resource_end, 1))
            for scope_start, scope_end in protowire.spans(data, resource_start, resource_end, 2):  # scope_logs
                scope = InstrumentationScope.FromString(protowire.joined(data, scope_start, scope_end, 1))
                frames.append((resource, scope, protowire.spans(data, scope_start, scope_end, 2)))  # log_records
    except (protowire.WireError, DecodeError) as exc:
        raise BadBody(f"not a valid ExportLogsServiceRequest protobuf: {exc}") from exc
    return frames
# resource frame, scope frame, resource, scope, record prefixes, as OTLP/JSON (lowerCamelCase) or proto names
_CAMEL = ("resourceLogs.item", "resourceLogs.item.scopeLogs.item", "resourceLogs.item.resource",
          "resourceLogs.item.scopeLogs.item.scope", "resourceLogs.item.scopeLogs.item.logRecords.item")
_SNAKE = tuple(name.replace("resourceLogs", "resource_logs").replace("scopeLogs", "scope_logs")
               .replace("logRecords", "log_records") for name in _CAMEL)


def _check_hex_ids(prefix: str, event: str, value: Any) -> None:
    """The body is an object; OTLP/JSON writes traceId and spanId as hex, where proto3 JSON would use base64."""
    if not prefix and event in ("start_array", "string", "number", "boolean", "null"):
        raise BadBody("an ExportLogsServiceRequest JSON body is an object with resourceLogs")
    if event == "string" and value and prefix.rsplit(".", 1)[-1] in _ID_KEYS:
        try:
            bytes.fromhex(value)
        except ValueError as exc:
            raise BadBody(f"{prefix.rsplit('.', 1)[-1]} {value!r} is not hex") from exc


_ID_KEYS = ("traceId", "trace_id", "spanId", "span_id")


def _frames(group: json_stream.Group) -> tuple[Resource, InstrumentationScope, int]:
    """A scanned scope's resource and scope as messages, and its record count; BadBody when they are not."""
    resource, scope = Resource(), InstrumentationScope()
    try:
        json_format.ParseDict(group.header("resource") or {}, resource, ignore_unknown_fields=True)
        json_format.ParseDict(group.header("scope") or {}, scope, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, AttributeError) as exc:
        raise BadBody(f"not a valid ExportLogsServiceRequest: {exc}") from exc
    return resource, scope, group.count


def _json_triples(body: bytes, frames: list[tuple[Resource, InstrumentationScope, int]], item: str
                  ) -> Iterator[_Triple]:
    """(resource, scope, record dict) for every record of a scanned JSON body, in order."""
    records = json_stream.items(body, item, "an ExportLogsServiceRequest")
    for resource, scope, count in frames:
        for _ in range(count):
            yield resource, scope, next(records)


def _records(triples: Iterable[_Triple], source_attributes: list[str], default_source: str
             ) -> Iterator[Record | Rejected]:
    """Each log record as a `Record`, in order; one that cannot be mapped (serialized) as `Rejected`."""
    keys = RecordKeys("otlp")
    request_id = uuid.uuid4().hex  # for records with no time at all: no content key can tell retries apart
    last: tuple[Resource, InstrumentationScope] | None = None
    for resource, scope, log_record in triples:
        if last is None or last[0] is not resource or last[1] is not scope:  # once per scope, not per record
            last = resource, scope
            fields = _attributes(resource.attributes)
            source = next((fields[a] for a in source_attributes if fields.get(a)), default_source)
            if scope.name:
                fields["otel.scope.name"] = scope.name
            fields.update(_attributes(scope.attributes))
            context = (resource.SerializeToString(deterministic=True), scope.SerializeToString(deterministic=True))
        try:
            if isinstance(log_record, dict):
                raw = orjson.dumps(log_record)
                log_record = _log_record(log_record)
            else:
                raw, log_record = log_record, LogRecord.FromString(log_record)
        except ValueError as exc:  # an OTLP/JSON record: the message says what is wrong
            yield Rejected(source, raw, str(exc))
            continue
        except DecodeError as exc:
            yield Rejected(source, raw, f"not a valid LogRecord: {exc}")
            continue
        record_bytes = log_record.SerializeToString(deterministic=True)
        nanos = log_record.time_unix_nano or log_record.observed_time_unix_nano
        try:
            record = _record(log_record, nanos, source, fields)
        except ValueError as exc:
            yield Rejected(source, record_bytes, str(exc))
            continue
        record.key = keys.key(nanos, *context, record_bytes, "" if nanos else request_id)
        yield record


def _log_record(data: dict[str, Any]) -> LogRecord:
    """One OTLP/JSON log record (hex ids) as a message; ValueError says why it is not one."""
    for key in _ID_KEYS:
        value = data.get(key)
        if isinstance(value, str) and value:
            data[key] = base64.b64encode(bytes.fromhex(value)).decode()  # checked by the scan
    record = LogRecord()
    try:
        json_format.ParseDict(data, record, ignore_unknown_fields=True)
    except (json_format.ParseError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a valid LogRecord: {exc}") from exc
    return record


def _record(log_record: LogRecord, nanos: int, source: str, scope_fields: dict[str, str]) -> Record:
    fields = dict(scope_fields)
    fields.update(_attributes(log_record.attributes))
    if log_record.trace_id:
        fields["trace_id"] = binascii.hexlify(log_record.trace_id).decode()
    if log_record.span_id:
        fields["span_id"] = binascii.hexlify(log_record.span_id).decode()
    severity_text, severity_number = log_record.severity_text, log_record.severity_number
    if severity_text:
        fields["severity_text"] = severity_text
    if severity_number:
        fields["severity_number"] = str(severity_number)
    body = log_record.body
    content = body.string_value if body.WhichOneof("value") == "string_value" else _render(body)
    return Record(source=source, content=content, key="", timestamp=nanos_to_iso(nanos) if nanos else None,
                  level=_level(severity_text, severity_number), fields=fields)


def _level(text: str, number: int) -> str | None:
    """Severity text when it is a known spelling, else the severity number's range, else none."""
    level = normalize_level(text) if text else None
    if level is None and 1 <= number <= 24:
        level = _SEVERITY_RANGES[(number - 1) // 4]
    return level


def _attributes(attributes: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for kv in attributes:
        value = _value(kv.value)
        out[kv.key] = value if isinstance(value, str) else orjson.dumps(value).decode()
    return out


def _render(value: AnyValue) -> str:
    """A non-string body as JSON text (empty for an empty body)."""
    python = _value(value)
    return "" if python is None else orjson.dumps(python).decode()


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode()
    return getattr(value, kind)


def encode_response(content_type: str, rejected: int = 0, message: str = "") -> bytes:
    """`ExportLogsServiceResponse` in the request's encoding, with `partial_success` when records were rejected."""
    response = ExportLogsServiceResponse()
    if rejected:
        response.partial_success.rejected_log_records = rejected
        response.partial_success.error_message = message
    if content_type == PROTOBUF:
        return response.SerializeToString()
    return json_format.MessageToJson(response, indent=None).encode()


def encode_status(content_type: str, code: int, message: str) -> bytes:
    """The `google.rpc.Status` body that OTLP/HTTP requires on 4xx and 5xx answers."""
    status = status_pb2.Status(code=code, message=message)
    if content_type == PROTOBUF:
        return status.SerializeToString()
    return json_format.MessageToJson(status, indent=None).encode()


