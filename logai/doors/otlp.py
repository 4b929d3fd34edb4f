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
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from logai.doors.batch import DoorBatch, Rejected
from logai.doors.bodies import BadBody, RecordKeys, nanos_to_iso
from logai.events import Record
from logai.ingest.headers import normalize_level

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# OTLP severity numbers, ranges of four: TRACE 1-4, DEBUG 5-8, INFO 9-12, WARN 13-16, ERROR 17-20, FATAL 21-24
_SEVERITY_RANGES = ("TRACE", "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def decode_request(body: bytes, content_type: str) -> ExportLogsServiceRequest:
    """Parse a request body; BadBody names what is wrong."""
    request = ExportLogsServiceRequest()
    if content_type == PROTOBUF:
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise BadBody(f"not a valid ExportLogsServiceRequest protobuf: {exc}") from exc
        return request
    try:
        data = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise BadBody(f"not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise BadBody("an ExportLogsServiceRequest JSON body is an object with resourceLogs")
    try:
        json_format.ParseDict(_hex_ids_to_base64(data), request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError) as exc:
        raise BadBody(f"not a valid ExportLogsServiceRequest: {exc}") from exc
    return request


def _hex_ids_to_base64(data: dict[str, Any]) -> dict[str, Any]:
    """OTLP/JSON writes traceId and spanId as hex, where proto3 JSON would use base64."""
    for resource in _list(data, "resourceLogs", "resource_logs"):
        for scope in _list(resource, "scopeLogs", "scope_logs"):
            for record in _list(scope, "logRecords", "log_records"):
                for key in ("traceId", "trace_id", "spanId", "span_id"):
                    value = record.get(key)
                    if isinstance(value, str) and value:
                        try:
                            record[key] = base64.b64encode(bytes.fromhex(value)).decode()
                        except ValueError as exc:
                            raise BadBody(f"{key} {value!r} is not hex") from exc
    return data


def _list(obj: Any, *keys: str) -> list[Any]:
    if not isinstance(obj, dict):
        return []
    for key in keys:
        value = obj.get(key)
        if isinstance(value, list):
            return value
    return []


def to_records(request: ExportLogsServiceRequest, *, source_attributes: list[str],
               default_source: str) -> DoorBatch:
    """The request's log records as `Record`s, in order; unmappable ones (serialized) in `rejected`."""
    batch = DoorBatch()
    keys = RecordKeys("otlp")
    request_id = uuid.uuid4().hex  # for records with no time at all: no content key can tell retries apart
    for resource_logs in request.resource_logs:
        resource_fields = _attributes(resource_logs.resource.attributes)
        source = next((resource_fields[a] for a in source_attributes if resource_fields.get(a)), default_source)
        resource_bytes = resource_logs.resource.SerializeToString(deterministic=True)
        for scope_logs in resource_logs.scope_logs:
            scope_fields = dict(resource_fields)
            if scope_logs.scope.name:
                scope_fields["otel.scope.name"] = scope_logs.scope.name
            scope_fields.update(_attributes(scope_logs.scope.attributes))
            scope_bytes = scope_logs.scope.SerializeToString(deterministic=True)
            for log_record in scope_logs.log_records:
                record_bytes = log_record.SerializeToString(deterministic=True)
                nanos = log_record.time_unix_nano or log_record.observed_time_unix_nano
                try:
                    record = _record(log_record, nanos, source, scope_fields)
                except ValueError as exc:
                    batch.rejected.append(Rejected(source, record_bytes, str(exc)))
                    continue
                record.key = keys.key(nanos, resource_bytes, scope_bytes, record_bytes, "" if nanos else request_id)
                batch.records.append(record)
    return batch


def _record(log_record: Any, nanos: int, source: str, scope_fields: dict[str, str]) -> Record:
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


