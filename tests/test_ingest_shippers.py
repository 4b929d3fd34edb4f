"""/v1/ingest as HTTP shippers use it: gzip, JSON arrays (Fluent Bit's and Vector's HTTP outputs), a source per
record, Fluent Bit's `date` time key, multi-line messages, and the Idempotency-Key header."""

from __future__ import annotations

import gzip

import orjson
import pytest
from fastapi.testclient import TestClient

from logai.api.app import create_app
from logai.config import ApiConfig, Settings

NDJSON = {"Content-Type": "application/x-ndjson"}
TRACE = ("java.lang.IllegalStateException: pool exhausted\n\tat com.acme.Pool.get(Pool.java:88)\n"
         "\tat com.acme.Api.handle(Api.java:21)")


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path, api=ApiConfig(max_request_bytes=1024 * 1024)))) as c:
        yield c


def events(client, **params):
    return client.get("/v1/events", params={"limit": 1000, **params}).json()["events"]


def test_fluent_bit_json_array_with_date_key_and_per_record_source(client):
    records = [{"date": 1700000000.25, "log": "GET /health 200", "service": "gateway"},
               {"date": 1700000001.5, "log": TRACE, "level": "error", "service": "orders"},
               {"date": 1700000002.0, "log": "no service field here"}]
    r = client.post("/v1/ingest", params={"source": "fluent-bit", "source_field": "service"},
                    content=orjson.dumps(records), headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json()["stored"] == 3
    [gateway] = events(client, source="gateway")
    assert gateway["ts"] == pytest.approx(1700000000.25) and gateway["content"] == "GET /health 200"
    [orders] = events(client, source="orders")
    assert orders["content"] == TRACE and orders["level"] == "ERROR"  # the stack trace stays one event
    assert [e["content"] for e in events(client, source="fluent-bit")] == ["no service field here"]


def test_gzip_json_lines_with_source_field(client):
    lines = b"\n".join(orjson.dumps({"msg": f"job {i} done", "app": f"worker-{i % 2}"}) for i in range(10))
    r = client.post("/v1/ingest", params={"source_field": "app"}, content=gzip.compress(lines),
                    headers={**NDJSON, "Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json()["stored"] == 10
    assert len(events(client, source="worker-0")) == 5 and len(events(client, source="worker-1")) == 5


def test_plain_text_gzip_and_broken_gzip(client):
    body = gzip.compress(b"2024-05-01 12:00:00 ERROR disk full\n2024-05-01 12:00:01 INFO retrying\n")
    r = client.post("/v1/ingest", params={"source": "host1"}, content=body, headers={"Content-Encoding": "gzip"})
    assert r.status_code == 200 and r.json()["stored"] == 2
    r = client.post("/v1/ingest", content=b"\x1f\x8bnot really", headers={"Content-Encoding": "gzip"})
    assert r.status_code == 400 and "gzip" in r.json()["detail"]
    r = client.post("/v1/ingest", content=b"x", headers={"Content-Encoding": "br"})
    assert r.status_code == 400 and "Content-Encoding" in r.json()["detail"]


def test_idempotency_key_header_makes_retries_free(client):
    body = orjson.dumps([{"message": "a"}, {"message": "b"}])
    headers = {"Content-Type": "application/json", "Idempotency-Key": "batch-0001"}
    first = client.post("/v1/ingest", params={"source_field": "svc"}, content=body, headers=headers).json()
    again = client.post("/v1/ingest", params={"source_field": "svc"}, content=body, headers=headers).json()
    assert (first["stored"], again["stored"], again["duplicates"]) == (2, 0, 2)
    plain = {"Idempotency-Key": "batch-0002"}
    assert client.post("/v1/ingest", content=b"x\ny\n", headers=plain).json()["stored"] == 2
    assert client.post("/v1/ingest", content=b"x\ny\n", headers=plain).json()["duplicates"] == 2


def test_bad_json_array_is_400_and_stores_nothing(client):
    r = client.post("/v1/ingest", content=b'[{"message": "a"}, {broken', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON array" in r.json()["detail"]
    assert client.get("/v1/stats").json()["events"] == 0


def test_chunked_body_over_the_limit_is_413_before_it_is_all_read(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path, api=ApiConfig(max_request_bytes=4096)))) as client:
        def chunks():
            for _ in range(100):
                yield b"x" * 1000 + b"\n"

        r = client.post("/v1/ingest", content=chunks())  # no Content-Length: chunked
        assert r.status_code == 413 and "api.max_request_bytes" in r.json()["detail"]
        bomb = gzip.compress(b"y" * 100_000)
        assert client.post("/v1/ingest", content=bomb, headers={"Content-Encoding": "gzip"}).status_code == 413
