"""OTLP/HTTP logs at POST /v1/logs: the OpenTelemetry SDK's own exporter as the peer, and OTLP/JSON bodies
written as the specification shows them (hex ids, int64 as strings, enum numbers)."""

from __future__ import annotations

import gzip
import logging

import pytest
from fastapi.testclient import TestClient
from google.protobuf import json_format
from google.rpc import status_pb2
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

from logai.api.app import create_app
from logai.config import ApiConfig, Settings
from tests.conftest import stored_events as events

PB = {"Content-Type": "application/x-protobuf"}
TRACE = "5b8efff798038103d269b633813fc60c"
SPAN = "eee19b7ec3c1b174"


def spec_json(service: str = "checkout", body: str = "Example log record", **record) -> dict:
    """An ExportLogsServiceRequest in OTLP/JSON, shaped like the specification's example."""
    log_record = {"timeUnixNano": "1544712660300000000", "observedTimeUnixNano": "1544712660300000000",
                  "severityNumber": 10, "severityText": "Information", "traceId": TRACE, "spanId": SPAN,
                  "body": {"stringValue": body},
                  "attributes": [{"key": "string.attribute", "value": {"stringValue": "some string"}},
                                 {"key": "int.attribute", "value": {"intValue": "10"}},
                                 {"key": "array.attribute", "value": {"arrayValue": {"values": [
                                     {"stringValue": "many"}, {"stringValue": "values"}]}}}],
                  **record}
    return {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                              "scopeLogs": [{"scope": {"name": "my.library", "version": "1.0.0"},
                                             "logRecords": [log_record]}]}]}


def to_protobuf(data: dict) -> bytes:
    """The same request as protobuf: proto3 JSON, with OTLP/JSON's hex ids turned into proto3's base64."""
    import base64
    import copy

    from google.protobuf import json_format

    data = copy.deepcopy(data)
    for resource in data["resourceLogs"]:
        for scope in resource["scopeLogs"]:
            for record in scope["logRecords"]:
                for key in ("traceId", "spanId"):
                    if record.get(key):
                        record[key] = base64.b64encode(bytes.fromhex(record[key])).decode()
    return json_format.ParseDict(data, ExportLogsServiceRequest()).SerializeToString()


@pytest.fixture
def client(door_client):
    return door_client


def test_spec_json_example_maps_every_field(client):
    r = client.post("/v1/logs", json=spec_json())
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {}  # nothing rejected: no partial_success
    [event] = events(client, source="checkout")
    assert event["content"] == "Example log record"
    assert event["level"] == "INFO"  # "Information" is no known spelling: severity number 10 decides
    assert event["ts"] == pytest.approx(1544712660.3)
    fields = event["fields"]
    assert fields["trace_id"] == TRACE and fields["span_id"] == SPAN
    assert fields["service.name"] == "checkout" and fields["otel.scope.name"] == "my.library"
    assert fields["int.attribute"] == "10" and fields["array.attribute"] == '["many","values"]'
    # trace and span ids are queryable
    assert [e["id"] for e in events(client, field=f"trace_id={TRACE}")] == [event["id"]]
    assert events(client, field="trace_id=00000000000000000000000000000000") == []


def test_protobuf_gzip_and_response_encoding(client):
    body = gzip.compress(to_protobuf(spec_json(body="payment declined for order 42")))
    r = client.post("/v1/logs", content=body, headers={**PB, "Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-protobuf"
    assert not ExportLogsServiceResponse.FromString(r.content).HasField("partial_success")
    assert events(client)[0]["content"] == "payment declined for order 42"


def test_bad_bodies_get_400_with_a_status_and_store_nothing(client):
    whole = to_protobuf(spec_json())
    r = client.post("/v1/logs", content=whole[:-7], headers=PB)  # truncated protobuf
    assert r.status_code == 400
    assert "ExportLogsServiceRequest" in status_pb2.Status.FromString(r.content).message
    r = client.post("/v1/logs", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["message"]
    r = client.post("/v1/logs", content=b"\x1f\x8b broken", headers={**PB, "Content-Encoding": "gzip"})
    assert r.status_code == 400
    r = client.post("/v1/logs", content=b"{}", headers={"Content-Type": "text/plain"})
    assert r.status_code == 415
    data = spec_json()
    data["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["traceId"] = "not-hex"
    assert client.post("/v1/logs", json=data).status_code == 400
    assert client.get("/v1/stats").json()["events"] == 0


def test_unknown_severity_empty_batches_and_non_string_bodies(client):
    records = [{"severityNumber": 0, "severityText": "SUPERBAD", "body": {"stringValue": "odd level"},
                "timeUnixNano": "1700000000000000000"},
               {"severityNumber": 99, "body": {"kvlistValue": {"values": [
                   {"key": "user", "value": {"stringValue": "ann"}}, {"key": "n", "value": {"intValue": "3"}}]}},
                "timeUnixNano": "1700000000000000001"},
               {"severityNumber": 17, "timeUnixNano": "1700000000000000002"}]
    data = {"resourceLogs": [{"resource": {}, "scopeLogs": [{"logRecords": records}]}]}
    assert client.post("/v1/logs", json=data).status_code == 200
    by_content = {e["content"]: e for e in events(client, source="otlp")}  # no service.name: default source
    assert by_content["odd level"]["level"] is None and by_content["odd level"]["fields"]["severity_text"] == "SUPERBAD"
    assert by_content['{"user":"ann","n":3}']["level"] is None
    assert by_content[""]["level"] == "ERROR" and "empty" in by_content[""]["flags"]
    before = client.get("/v1/stats").json()["events"]
    for empty in ({}, {"resourceLogs": []}, {"resourceLogs": [{"scopeLogs": [{"logRecords": []}]}]}):
        assert client.post("/v1/logs", json=empty).status_code == 200
    assert client.post("/v1/logs", content=b"", headers=PB).status_code == 200
    assert client.get("/v1/stats").json()["events"] == before


def test_retried_batch_stores_nothing_twice_and_bad_records_are_dead_lettered(client):
    data = spec_json()
    long_name = {"key": "service.name", "value": {"stringValue": "x" * 300}}
    data["resourceLogs"].append({"resource": {"attributes": [long_name]}, "scopeLogs": [{"logRecords": [
        {"timeUnixNano": "1700000000000000000", "body": {"stringValue": "from a service with a 300-char name"}}]}]})
    body = to_protobuf(data)
    for _ in range(3):  # the exporter's retries send the same bytes
        r = client.post("/v1/logs", content=body, headers=PB)
        assert r.status_code == 200
        partial = ExportLogsServiceResponse.FromString(r.content).partial_success
        assert partial.rejected_log_records == 1 and "source name" in partial.error_message
    stats = client.get("/v1/stats").json()
    assert stats["events"] == 1 and stats["dead_letters"] == 3
    dead = client.app.state.service.store.dead_letters()
    assert "source name" in dead[0]["error"] and b"300-char name" in dead[0]["raw"]


def test_a_100k_record_batch(client):
    records = [{"timeUnixNano": str(1_700_000_000_000_000_000 + i), "severityNumber": 9,
                "body": {"stringValue": f"request {i} served in {i % 97} ms"}} for i in range(100_000)]
    data = {"resourceLogs": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "web"}}]},
                              "scopeLogs": [{"logRecords": records}]}]}
    body = gzip.compress(to_protobuf(data))
    r = client.post("/v1/logs", content=body, headers={**PB, "Content-Encoding": "gzip"})
    assert r.status_code == 200
    assert client.get("/v1/stats").json()["events"] == 100_000
    [template] = client.get("/v1/templates", params={"source": "web"}).json()["templates"]
    assert template["count"] == 100_000 and template["template"] == "request <*> served in <*> ms"


def test_body_over_the_limit_is_413(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path, api=ApiConfig(max_request_bytes=2048)))) as client:
        big = to_protobuf(spec_json(body="x" * 4000))
        refused = client.post("/v1/logs", content=big, headers=PB)
        assert refused.status_code == 413
        assert "api.max_request_bytes" in status_pb2.Status.FromString(refused.content).message
        bomb = gzip.compress(to_protobuf(spec_json(body="y" * 100_000)))  # small on the wire, big inflated
        assert len(bomb) < 2048
        assert client.post("/v1/logs", content=bomb, headers={**PB, "Content-Encoding": "gzip"}).status_code == 413


def test_api_key_as_bearer_token(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path, api=ApiConfig(api_keys=["s3cret-key-0001"])))) as client:
        assert client.post("/v1/logs", json=spec_json()).status_code == 401
        ok = client.post("/v1/logs", json=spec_json(), headers={"Authorization": "Bearer s3cret-key-0001"})
        assert ok.status_code == 200


@pytest.mark.filterwarnings("ignore:`LoggingHandler` in `opentelemetry-sdk` is deprecated")
def test_the_opentelemetry_sdk_exporter_against_a_real_server(live_server):
    """The SDK's OTLPLogExporter (protobuf over HTTP, gzip), fed by Python logging inside a span."""
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
    from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    provider = LoggerProvider(resource=Resource.create({"service.name": "otel-sdk-app"}))
    exporter = OTLPLogExporter(endpoint=f"{live_server.base}/v1/logs", compression=Compression.Gzip)
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    logger = logging.getLogger("otel-test")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handler = LoggingHandler(level=logging.INFO, logger_provider=provider)
    logger.addHandler(handler)
    tracer = TracerProvider().get_tracer("test")
    try:
        with tracer.start_as_current_span("checkout") as span:
            for order in range(20):
                logger.info("order %d accepted", order)
            logger.error("payment gateway timeout after %d ms", 3000)
            trace_id = format(span.get_span_context().trace_id, "032x")
        assert provider.force_flush(10_000)
    finally:
        logger.removeHandler(handler)
        provider.shutdown()
    found = live_server.wait_events(21, source="otel-sdk-app")
    assert len(found) == 21
    error = next(e for e in found if e["level"] == "ERROR")
    assert error["content"] == "payment gateway timeout after 3000 ms"
    assert error["fields"]["trace_id"] == trace_id
    assert len(live_server.events(field=f"trace_id={trace_id}")) == 21
    templates = {e["template"] for e in found if e["level"] == "INFO"}
    assert templates == {"order <*> accepted"}


def test_json_response_decodes_as_export_response():
    from logai.doors.otlp import encode_response

    body = encode_response("application/json", rejected=2, message="bad")
    parsed = json_format.Parse(body, ExportLogsServiceResponse())
    assert parsed.partial_success.rejected_log_records == 2


def test_json_and_protobuf_of_one_request_are_the_same_records(client):
    """Streamed JSON and decoded protobuf map a record alike, down to its ingest key: a batch retried in the
    other encoding is stored once."""
    data = spec_json()
    data["resourceLogs"][0]["scopeLogs"].append({"scope": {"name": "other"}, "logRecords": [
        {"timeUnixNano": "1544712660300000001", "body": {"stringValue": f"second {i}"}} for i in range(3)]})
    late = {"timeUnixNano": "1544712660300000002", "body": {"stringValue": "no resource"}}
    data["resourceLogs"].append({"scopeLogs": [{"logRecords": [late]}], "resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "late"}}]}})
    assert client.post("/v1/logs", content=to_protobuf(data), headers=PB).status_code == 200
    by_protobuf = sorted((e["source"], e["content"], e["fields"].get("otel.scope.name", "")) for e in events(client))
    assert len(by_protobuf) == 5 and ("late", "no resource", "") in by_protobuf  # resource after its scopes
    assert client.post("/v1/logs", json=data).status_code == 200
    assert sorted((e["source"], e["content"], e["fields"].get("otel.scope.name", "")) for e in events(client)) == \
        by_protobuf
