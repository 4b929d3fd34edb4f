"""The REST API: TestClient unit tests, and one real uvicorn server on a free port."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from logai.api.app import create_app
from logai.config import ApiConfig, Settings
from pipelines.local_services import ServeProcess
from tests.conftest import EXAMPLE, EXAMPLE_RECORDS

HDFS = (b"081109 203518 143 INFO dfs.DataNode$DataXceiver: Receiving block blk_77 src: /10.0.0.1:5000 dest: "
        b"/10.0.0.2:50010\n081109 203521 19 ERROR dfs.DataBlockScanner: Verification failed for blk_77\n")


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(Settings(data_dir=tmp_path))) as c:
        yield c


def test_ingest_plain_text_and_query(client):
    r = client.post("/v1/ingest", params={"source": "hdfs", "format": "HDFS"}, content=HDFS)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["received"], body["stored"], body["dead_letters"]) == (2, 2, 0)
    events = client.get("/v1/events", params={"source": "hdfs"}).json()["events"]
    assert [e["line"] for e in events] == [2, 1]
    assert events[1]["conceptualized"] == "Receiving block <*block*> src: <*src*> dest: <*dest*>"
    assert client.get("/v1/events", params={"level": "error"}).json()["events"][0]["line"] == 2
    hits = client.get("/v1/events", params={"concept": "block", "value": "blk_77"}).json()["events"]
    assert {e["line"] for e in hits} == {1, 2}  # line 2 got its concept from the knowledge base
    tid = events[1]["template_id"]
    detail = client.get(f"/v1/templates/{tid}").json()
    assert detail["count"] == 1 and detail["series"][0]["count"] == 1
    assert client.get("/v1/stats").json()["events"] == 2


def test_ingest_json_lines(client):
    lines = b'{"ts":"2024-01-15T10:00:00Z","level":"warn","msg":"disk 91% full","disk":"sda1"}\n' \
            b'{"ts":"2024-01-15T10:00:05Z","level":"warn","msg":"disk 93% full","disk":"sda1"}\n'
    r = client.post("/v1/ingest", params={"source": "node"}, content=lines,
                    headers={"Content-Type": "application/x-ndjson"})
    assert r.status_code == 200 and r.json()["stored"] == 2
    events = client.get("/v1/events", params={"source": "node"}).json()["events"]
    assert events[0]["level"] == "WARNING" and events[0]["fields"]["disk"] == "sda1"


def test_idempotency_key_prevents_double_counting(client):
    params = {"source": "hdfs", "format": "HDFS", "idempotency_key": "batch-42"}
    first = client.post("/v1/ingest", params=params, content=HDFS).json()
    second = client.post("/v1/ingest", params=params, content=HDFS).json()
    assert (first["stored"], second["stored"], second["duplicates"]) == (2, 0, 2)


def test_templates_list_what_stands_now(client):
    """A stream's first line gets its own template, which the next line generalises: the list shows the
    general template with both lines, and the first one says what replaced it (before: two templates, one
    of them stale, as the example log's console showed)."""
    for name in ("alpha", "beta"):
        r = client.post("/v1/ingest", params={"source": "jobs"}, content=f"worker started job {name} now".encode())
        assert r.status_code == 200, r.text
    listed = client.get("/v1/templates", params={"source": "jobs"}).json()["templates"]
    assert [(t["template"], t["count"], t["merged_into"]) for t in listed] == [("worker started job <*> now", 2, None)]
    first = client.get("/v1/events", params={"source": "jobs"}).json()["events"][-1]
    assert client.get(f"/v1/templates/{first['template_id']}").json()["merged_into"] == listed[0]["template_id"]
    assert client.get("/v1/stats").json()["templates"] == 1


def test_pagination_with_cursor(client):
    client.post("/v1/ingest", params={"source": "app", "format": "log4j"}, content=EXAMPLE.read_bytes())
    seen, cursor = [], None
    while True:
        page = client.get("/v1/events", params={"limit": 150, **({"cursor": cursor} if cursor else {})}).json()
        seen += [e["id"] for e in page["events"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == EXAMPLE_RECORDS


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "status"),
    [
        ("post", "/v1/ingest", {"params": {"format": "nope"}, "content": b"x"}, 422),
        ("get", "/v1/events", {"params": {"limit": 100000}}, 422),
        ("get", "/v1/events", {"params": {"start": "not a date"}}, 422),
        ("get", "/v1/events", {"params": {"start": "2024-01-02", "end": "2024-01-01"}}, 422),
        ("get", "/v1/events", {"params": {"cursor": "not-a-cursor"}}, 422),
        ("get", "/v1/templates/does-not-exist", {}, 404),
        ("get", "/v1/nothing-here", {}, 404),
    ],
)
def test_bad_requests_get_clear_4xx(client, method, url, kwargs, status):
    r = getattr(client, method)(url, **kwargs)
    assert r.status_code == status and r.json()["detail"]


def test_oversize_request_is_refused(tmp_path):
    settings = Settings(data_dir=tmp_path, api=ApiConfig(max_request_bytes=2048))
    with TestClient(create_app(settings)) as c:
        r = c.post("/v1/ingest", content=b"x" * 5000)
        assert r.status_code == 413 and "2048" in r.json()["detail"]
        assert c.get("/v1/stats").json()["events"] == 0


def test_api_keys(tmp_path):
    settings = Settings(data_dir=tmp_path, api=ApiConfig(api_keys=["s3cret-key-0001"]))
    with TestClient(create_app(settings)) as c:
        assert c.get("/v1/stats").status_code == 401
        assert c.get("/v1/stats", headers={"X-API-Key": "wrong"}).status_code == 401
        assert c.get("/v1/stats", headers={"X-API-Key": "s3cret-key-0001"}).status_code == 200
        assert c.get("/healthz").status_code == 200  # probes need no key


def test_health_ready_metrics_and_docs(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    client.post("/v1/ingest", params={"source": "hdfs", "format": "HDFS"}, content=HDFS)
    text = client.get("/metrics").text
    assert "logai_lines_in_total" in text and "logai_http_request_seconds_bucket" in text
    schema = client.get("/openapi.json").json()
    assert {"/v1/ingest", "/v1/events", "/v1/templates", "/v1/templates/{template_id}", "/v1/anomalies",
            "/v1/stats"} <= set(schema["paths"])
    assert client.get("/docs").status_code == 200


def test_real_server_over_http(tmp_path):
    """`logai serve` as users run it: a real uvicorn process, queried over the network."""
    server = ServeProcess(tmp_path, args=["--ingest", str(EXAMPLE)])
    try:
        base = server.base
        stats = httpx.get(f"{base}/v1/stats").json()
        assert stats["events"] == EXAMPLE_RECORDS
        top = httpx.get(f"{base}/v1/templates", params={"limit": 1}).json()["templates"][0]
        assert top["template"].endswith("Created order <*> for user <*> in <*> ms")
        r = httpx.post(f"{base}/v1/ingest", params={"source": "hdfs", "format": "HDFS"}, content=HDFS)
        assert r.status_code == 200 and r.json()["stored"] == 2
    finally:
        server.stop()


def test_anomalies_endpoint(client):
    store = client.app.state.service.store
    store.add_anomaly(1_700_000_000.0, "hdfs", "rate_spike", 9.1, 4.0, {"template_id": "Ta", "rate": 120})
    body = client.get("/v1/anomalies", params={"start": "2023-11-14T00:00:00"}).json()
    assert body["anomalies"][0]["detector"] == "rate_spike" and body["anomalies"][0]["evidence"]["rate"] == 120
    assert client.get("/v1/anomalies", params={"start": "2030-01-01T00:00:00"}).json()["anomalies"] == []


def test_a_known_source_is_read_with_the_format_it_was_read_with(tmp_path):
    """A line posted without a format to a source ingested from a file as log4j is read as log4j: one
    template set per source, whichever door a line comes through."""
    from fastapi.testclient import TestClient

    from logai.api.app import create_app
    from logai.bootstrap import build_service
    from logai.config import Settings
    from logai.doors.files import ingest_file

    settings = Settings(data_dir=tmp_path / "data")
    service = build_service(settings)
    log = tmp_path / "shop.log"
    log.write_text("".join(f"2024-01-15 10:23:4{i},123 INFO  [exec-{i}] c.e.shop.Orders - order {i} paid\n"
                           for i in range(5)))
    ingest_file(service, log, None)
    with TestClient(create_app(settings, service)) as client:
        r = client.post("/v1/ingest?source=shop.log", content=b"2024-01-15 10:24:00,001 INFO  [exec-9] "
                                                               b"c.e.shop.Orders - order 9 paid")
        assert r.status_code == 200, r.text
        events = client.get("/v1/events", params={"source": "shop.log", "limit": 10}).json()["events"]
    assert len({e["template_id"] for e in events}) == 1 and len(events) == 6
    assert all(e["fields"].get("Logger") == "c.e.shop.Orders" for e in events)
