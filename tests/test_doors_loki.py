"""Loki push at POST /loki/api/v1/push: the JSON form of Loki's HTTP API documentation, and protobuf +
snappy built by classes that protoc compiles in the test from the push message of Loki's push.proto."""

from __future__ import annotations

import gzip
import importlib
import sys
import time

import orjson
import pytest
import snappy

from logai.doors.bodies import BadBody
from logai.doors.loki import parse_labels
from tests.conftest import stored_events as events

# The push message as published in grafana/loki pkg/push/push.proto (field names and numbers; gogoproto
# options left out, as they change nothing on the wire).
PUSH_PROTO = """
syntax = "proto3";
package logproto;
import "google/protobuf/timestamp.proto";
message PushRequest { repeated StreamAdapter streams = 1; string format = 2; }
message StreamAdapter { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
message LabelPairAdapter { string name = 1; string value = 2; }
message EntryAdapter {
  google.protobuf.Timestamp timestamp = 1;
  string line = 2;
  repeated LabelPairAdapter structuredMetadata = 3;
  repeated LabelPairAdapter parsed = 4;
}
"""


@pytest.fixture(scope="module")
def push_pb2(tmp_path_factory):
    """protoc (grpcio-tools) output for PUSH_PROTO, imported from a temporary folder."""
    from importlib.resources import files

    from grpc_tools import protoc

    folder = tmp_path_factory.mktemp("lokiproto")
    (folder / "push.proto").write_text(PUSH_PROTO)
    include = str(files("grpc_tools") / "_proto")
    assert protoc.main(["protoc", f"-I{folder}", f"-I{include}", f"--python_out={folder}", "push.proto"]) == 0
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("push_pb2")
    finally:
        sys.path.remove(str(folder))


def protobuf_push(push_pb2, streams: list[tuple[str, list[tuple[int, str, dict[str, str]]]]]) -> bytes:
    request = push_pb2.PushRequest()
    for labels, entries in streams:
        stream = request.streams.add(labels=labels)
        for ns, line, metadata in entries:
            entry = stream.entries.add(line=line)
            entry.timestamp.seconds, entry.timestamp.nanos = divmod(ns, 1_000_000_000)
            for name, value in metadata.items():
                entry.structuredMetadata.add(name=name, value=value)
    return snappy.compress(request.SerializeToString())


PB = {"Content-Type": "application/x-protobuf"}
NS = 1_700_000_000_000_000_000


@pytest.fixture
def client(door_client):
    return door_client


def json_push(*values, labels=None):
    return {"streams": [{"stream": labels or {"service_name": "api", "env": "prod"}, "values": list(values)}]}


def test_json_push_as_documented(client):
    body = json_push([str(NS), "GET /users 200 12ms"], [str(NS + 1), "GET /users 200 15ms", {"trace_id": "abc"}])
    r = client.post("/loki/api/v1/push", json=body, headers={"X-Scope-OrgID": "team-a"})
    assert r.status_code == 204 and r.content == b""
    found = sorted(events(client, source="api"), key=lambda e: e["id"])
    assert [e["content"] for e in found] == ["GET /users 200 12ms", "GET /users 200 15ms"]
    assert found[0]["ts"] == pytest.approx(NS / 1e9)
    assert found[1]["fields"] == {"service_name": "api", "env": "prod", "tenant": "team-a", "trace_id": "abc"}
    assert found[0]["template_id"] == found[1]["template_id"]


def test_protobuf_snappy_from_the_published_proto(client, push_pb2):
    body = protobuf_push(push_pb2, [
        ('{job="varlogs", host="web-1", filename="/var/log/app.log"}',
         [(NS, '2024-05-01 12:00:00 ERROR disk /dev/sda1 is 97% full', {"pod": "web-1-abc"}),
          (NS + 5, '{"level":"warn","msg":"slow query took 2300 ms","db":"orders"}', {})]),
        ('{app="worker"}', [(NS + 9, "job 17 finished", {})]),
    ])
    assert client.post("/loki/api/v1/push", content=body, headers=PB).status_code == 204
    varlogs = sorted(events(client, source="varlogs"), key=lambda e: e["id"])
    assert varlogs[0]["content"] == "disk /dev/sda1 is 97% full" and varlogs[0]["level"] == "ERROR"
    assert varlogs[0]["ts"] == pytest.approx(NS / 1e9)  # the entry's time, not the line's own
    assert varlogs[0]["fields"]["pod"] == "web-1-abc" and varlogs[0]["fields"]["host"] == "web-1"
    assert varlogs[1]["content"] == "slow query took 2300 ms" and varlogs[1]["level"] == "WARNING"
    assert varlogs[1]["fields"]["db"] == "orders"
    assert [e["content"] for e in events(client, source="worker")] == ["job 17 finished"]


def test_gzip_json_and_retries_store_nothing_twice(client, push_pb2):
    body = gzip.compress(orjson.dumps(json_push([str(NS), "a"], [str(NS), "a"], [str(NS + 1), "b"])))
    for _ in range(2):
        r = client.post("/loki/api/v1/push", content=body,
                        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
        assert r.status_code == 204
    # the same entry twice in one push is two lines; the re-sent push adds nothing
    assert client.get("/v1/stats").json()["events"] == 3
    pb = protobuf_push(push_pb2, [('{app="x"}', [(NS, "one", {}), (NS + 1, "two", {})])])
    for _ in range(3):
        assert client.post("/loki/api/v1/push", content=pb, headers=PB).status_code == 204
    assert client.get("/v1/stats").json()["events"] == 5


@pytest.mark.parametrize("body, headers, reason", [
    (b"{not json", {"Content-Type": "application/json"}, "JSON"),
    (b'{"streams": [{"stream": {"a": "b"}, "values": [["1", 5]]}]}', {"Content-Type": "application/json"}, "values"),
    (b'{"streams": {}}', {"Content-Type": "application/json"}, "streams"),
    (b"not snappy at all", PB, "snappy"),
    (b"\x1f\x8bxx", {"Content-Type": "application/json", "Content-Encoding": "gzip"}, "gzip"),
    (b"{}", {"Content-Type": "text/csv"}, "Content-Type"),
])
def test_bad_bodies_get_400_with_the_reason(client, body, headers, reason):
    r = client.post("/loki/api/v1/push", content=body, headers=headers)
    assert r.status_code == 400 and reason in r.json()["detail"]
    assert client.get("/v1/stats").json()["events"] == 0


def test_truncated_protobuf_and_bad_labels(client, push_pb2):
    request = push_pb2.PushRequest()
    request.streams.add(labels='{app="x"}').entries.add(line="hello")
    truncated = snappy.compress(request.SerializeToString()[:-3])
    assert client.post("/loki/api/v1/push", content=truncated, headers=PB).status_code == 400
    bad_labels = protobuf_push(push_pb2, [("app=x", [(NS, "hello", {})])])
    r = client.post("/loki/api/v1/push", content=bad_labels, headers=PB)
    assert r.status_code == 400 and "labels" in r.json()["detail"]
    assert client.get("/v1/stats").json()["events"] == 0


def test_a_bad_timestamp_dead_letters_that_entry_only(client):
    r = client.post("/loki/api/v1/push", json=json_push(["yesterday", "kept aside"], [str(NS), "stored"]))
    assert r.status_code == 204
    assert [e["content"] for e in events(client)] == ["stored"]
    [dead] = client.app.state.service.store.dead_letters()
    assert "bad timestamp" in dead["error"] and b"kept aside" in dead["raw"]


def test_empty_pushes_and_a_100k_entry_push(client, push_pb2):
    assert client.post("/loki/api/v1/push", json={"streams": []}).status_code == 204
    assert client.post("/loki/api/v1/push", json=json_push()).status_code == 204
    entries = [(NS + i, f"user {i % 500} logged in from 10.0.{i % 7}.{i % 200}", {}) for i in range(100_000)]
    assert client.post("/loki/api/v1/push", content=protobuf_push(push_pb2, [('{job="auth"}', entries)]),
                       headers=PB).status_code == 204
    assert client.get("/v1/stats").json()["events"] == 100_000
    [template] = client.get("/v1/templates", params={"source": "auth"}).json()["templates"]
    assert template["count"] == 100_000


def test_level_labels_win_and_unknown_levels_stay_empty(client):
    client.post("/loki/api/v1/push", json=json_push([str(NS), "INFO all good"], labels={"app": "a", "level": "error"}))
    client.post("/loki/api/v1/push", json=json_push([str(NS), "nothing here"], labels={"app": "b", "level": "chatty"}))
    assert events(client, source="a")[0]["level"] == "ERROR"
    assert events(client, source="b")[0]["level"] is None


def test_parse_labels():
    assert parse_labels('{app="a", path="C:\\\\x", q="say \\"hi\\""}') == {"app": "a", "path": "C:\\x",
                                                                             "q": 'say "hi"'}
    assert parse_labels("{}") == {}
    for bad in ("app=x", '{app="x"', '{app=x}', '{="x"}'):
        with pytest.raises(BadBody):
            parse_labels(bad)


def test_against_a_real_server(live_server, push_pb2):
    """Over the network, as Alloy's loki.write or Promtail would send it."""
    import httpx

    body = protobuf_push(push_pb2, [('{service_name="edge", cluster="eu"}',
                                     [(time.time_ns(), f"upstream timed out after {n} s", {}) for n in range(10)])])
    r = httpx.post(f"{live_server.base}/loki/api/v1/push", content=body, headers=PB)
    assert r.status_code == 204
    found = live_server.wait_events(10, source="edge")
    assert len(found) == 10 and {e["template"] for e in found} == {"upstream timed out after <*> s"}
