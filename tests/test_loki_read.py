"""The Loki-compatible read API, request by request against the shapes of Loki's HTTP API documentation
(grafana.com/docs/loki/latest/reference/loki-http-api): labels, label values, query_range and query
(streams), Grafana's health check, patterns; and a 400 naming the part of any LogQL outside the subset."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from logai.api.app import create_app
from logai.config import Settings
from logai.store.logql import UnsupportedQuery, parse

NS = 1_764_496_800  # 2025-11-30T10:00:00Z
LEVELS = ["INFO", "INFO", "ERROR", "WARN"]


def line(i: int) -> str:
    level = LEVELS[i % 4]
    message = {"INFO": f"served /api/pay in {i % 50} ms", "ERROR": f"payment gateway timeout after {i} ms",
               "WARN": f"retrying order {i} (attempt {i % 3})"}[level]
    return f"{level} {message}"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    settings = Settings(data_dir=tmp_path_factory.mktemp("loki"))
    settings.route.ingest_task = None
    settings.alerts.enabled = False
    with TestClient(create_app(settings)) as c:
        for source in ("checkout", "billing"):  # pushed the way Promtail / Alloy push, read back the way Grafana reads
            values = [[str((NS + i) * 10**9), line(i)] for i in range(400)]
            r = c.post("/loki/api/v1/push", json={"streams": [{"stream": {"service_name": source},
                                                                "values": values}]})
            assert r.status_code == 204, r.text
        yield c


def get(client, path: str, **params):
    return client.get(f"/loki/api/v1/{path}", params={"start": str(NS * 10**9), "end": str((NS + 400) * 10**9),
                                                      **params})


def test_labels_and_label_values(client):
    labels = client.get("/loki/api/v1/labels").json()
    assert labels["status"] == "success" and {"source", "service_name", "level"} <= set(labels["data"])
    assert get(client, "label/service_name/values").json() == {"status": "success", "data": ["billing", "checkout"]}
    assert set(get(client, "label/level/values").json()["data"]) == {"INFO", "ERROR", "WARNING"}  # normalised
    assert get(client, "label/nope/values").json()["data"] == []


def test_query_range_returns_streams_with_line_filters(client):
    body = get(client, "query_range", query='{service_name="checkout", level="ERROR"} |= "timeout" != "after 2 "',
               limit="1000").json()
    assert body["status"] == "success" and body["data"]["resultType"] == "streams"
    [stream] = body["data"]["result"]
    assert stream["stream"] == {"source": "checkout", "service_name": "checkout", "level": "ERROR"}
    assert len(stream["values"]) == 99  # 100 timeouts, less "after 2 ms"
    for ts, text in stream["values"]:
        assert isinstance(ts, str) and re.fullmatch(r"\d{19}", ts) and "timeout" in text
    times = [int(ts) for ts, _ in stream["values"]]
    assert times == sorted(times, reverse=True)  # backward: newest first


def test_query_range_limit_direction_regex_and_unknown_labels(client):
    forward = get(client, "query_range", query='{source=~"check.*"} |~ "retrying order [0-9]+ \\\\(attempt 0\\\\)"',
                  limit="5", direction="forward").json()["data"]["result"]
    values = [v for s in forward for v in s["values"]]
    assert len(values) == 5 and [int(t) for t, _ in values] == sorted(int(t) for t, _ in values)
    assert all("attempt 0" in text for _, text in values)
    both = get(client, "query_range", query='{source!="nothing", level=~"WARN.*|ERROR"} !~ "timeout"', limit="1000")
    streams = both.json()["data"]["result"]
    assert {s["stream"]["source"] for s in streams} == {"checkout", "billing"}
    assert {s["stream"]["level"] for s in streams} == {"WARNING"} and sum(len(s["values"]) for s in streams) == 200
    assert get(client, "query_range", query='{cluster="eu-1"}').json()["data"]["result"] == []


def test_grafana_health_check_and_instant_log_query(client):
    health = client.get("/loki/api/v1/query", params={"query": "vector(1)+vector(1)", "time": "1700000000"}).json()
    assert health["data"]["resultType"] == "vector" and health["data"]["result"][0]["value"] == [1700000000.0, "2"]
    instant = client.get("/loki/api/v1/query", params={"query": '{source="billing"}', "time": str(NS + 400),
                                                      "limit": "3"}).json()
    assert instant["data"]["resultType"] == "streams"
    assert sum(len(s["values"]) for s in instant["data"]["result"]) == 3


def test_patterns_are_templates_with_counts_per_step(client):
    body = get(client, "patterns", query='{service_name="checkout"}', step="120").json()
    assert body["status"] == "success"
    patterns = {p["pattern"]: p["samples"] for p in body["data"]}
    assert sum(n for samples in patterns.values() for _, n in samples) == 400
    timeout = next(samples for pattern, samples in patterns.items() if "gateway timeout" in pattern)
    assert sum(n for _, n in timeout) == 100
    assert all(t % 120 == 0 and isinstance(n, int) for samples in patterns.values() for t, n in samples)
    assert any("<_>" in pattern for pattern in patterns)


@pytest.mark.parametrize(("query", "named"), [
    ('sum by (level) (count_over_time({source="checkout"}[1m]))', "metric queries (sum(...))"),
    ('{source="checkout"} | json', "| json"),
    ('{source="checkout"} | logfmt | level="error"', "| logfmt"),
    ('{source=~".*"}', "at least one regexp or equality matcher"),
    ('{source="checkout"', "parse error"),
    ('{source=~"("}', "invalid regular expression"),
])
def test_logql_outside_the_subset_is_a_400_naming_it(client, query, named):
    r = get(client, "query_range", query=query)
    assert r.status_code == 400 and named in r.text


def test_bad_times_and_directions_are_400(client):
    assert client.get("/loki/api/v1/query_range", params={"query": '{source="a"}', "start": "yesterday"}
                      ).status_code == 400
    assert get(client, "query_range", query='{source="a"}', direction="sideways").status_code == 400
    assert get(client, "patterns", query='{source="checkout"} |= "x"').status_code == 400


def test_logql_unquoting():
    query = parse('{source="a}b"} |= "say \\"hi\\"" |= `C:\\dir`')
    assert query.matchers[0].value == "a}b"
    assert [f.text for f in query.filters] == ['say "hi"', "C:\\dir"]
    with pytest.raises(UnsupportedQuery):
        parse('{source="a" level="b"}')
