"""How much one capped-size body grows a real `logai serve`, door by door (issue 14: at most twice the cap).

Each door gets a body just under the cap in its shippers' encoding: a JSON array and JSON lines on
`/v1/ingest` (Fluent Bit, Vector), OTLP/HTTP protobuf and JSON on `/v1/logs`, Loki push JSON and
snappy protobuf on `/loki/api/v1/push`, and plain text as the baseline. The first bodies of a door fill
what is meant to stay (SQLite's page cache, templates, the allocator's arenas); the figure is the largest
RSS growth, sampled every 10 ms, over the later ones. Used by `bench_hostile.py` and the hostile tests.
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import cramjam
import httpx
import orjson
from tqdm import tqdm

MESSAGES = ("charge ok for order {i} in {ms} ms", "user u{u} logged in from 10.0.{a}.{b}",
            "cache miss for key session:{i}, fetched in {ms} ms", "payment gateway timeout after {ms} ms")
NS = 1_764_496_800_000_000_000


def _message(i: int) -> str:
    return MESSAGES[i % len(MESSAGES)].format(i=i, ms=i % 997, u=i % 1000, a=i % 7, b=i % 200)


def _fill(cap: int, one: Callable[[int], bytes], frame: int = 64) -> list[bytes]:
    """Items `one(start + i)` until their bytes (and a comma each) would pass `cap - frame`."""
    items, size, i = [], 0, 0
    while True:
        item = one(i)
        if size + len(item) + 1 > cap - frame:
            return items
        items.append(item)
        size, i = size + len(item) + 1, i + 1


def _otlp_record(i: int, start: int) -> dict:
    return {"timeUnixNano": str(NS + (start + i) * 1000), "severityText": "ERROR" if i % 4 == 3 else "INFO",
            "body": {"stringValue": _message(start + i)}, "traceId": f"{start + i:032x}",
            "attributes": [{"key": "http.route", "value": {"stringValue": "/api/pay"}}]}


def _otlp_json(records: list[bytes]) -> bytes:
    head = b'{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"payments"}}]},' \
           b'"scopeLogs":[{"scope":{"name":"app"},"logRecords":['
    return head + b",".join(records) + b"]}]}]}"


def _otlp_protobuf(cap: int, start: int) -> bytes:
    """As many records as fit `cap` bytes of ExportLogsServiceRequest protobuf."""
    from google.protobuf import json_format
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    def request(count: int) -> ExportLogsServiceRequest:
        data = orjson.loads(_otlp_json([orjson.dumps(_otlp_record(i, start)) for i in range(count)]))
        for item in data["resourceLogs"][0]["scopeLogs"][0]["logRecords"]:
            item["traceId"] = base64.b64encode(bytes.fromhex(item["traceId"])).decode()
        return json_format.ParseDict(data, ExportLogsServiceRequest())

    per_record = request(1000).ByteSize() / 1000
    message = request(int((cap - 200) / per_record))
    records = message.resource_logs[0].scope_logs[0].log_records
    while message.ByteSize() > cap - 100:
        del records[-100:]
    return message.SerializeToString()


DOORS = ("plain text", "JSON array", "JSON lines", "OTLP protobuf", "OTLP JSON", "Loki JSON", "Loki protobuf")


def body(door: str, cap: int, start: int = 0) -> tuple[str, dict[str, str], bytes]:
    """(path, headers, body) of just under `cap` bytes for `door`; `start` makes each round's records new.
    Built for the one door asked (an OTLP protobuf body of 3 MB alone takes about a second)."""
    def record(i: int) -> bytes:
        return orjson.dumps({"date": f"2026-11-30T10:00:{i % 60:02d}Z", "level": "INFO", "service": "payments",
                             "log": _message(start + i)})

    json_type = {"Content-Type": "application/json"}
    if door == "plain text":
        plain = b"\n".join(f"2026-11-30 10:00:00 INFO payments: {_message(start + i)}".encode()
                           for i in range(cap // 80))[: cap - 100]
        return "/v1/ingest?source=plain", {"Content-Type": "text/plain"}, plain[: plain.rfind(b"\n")]
    if door == "JSON array":
        return "/v1/ingest?source=json&format=json", json_type, b"[" + b",".join(_fill(cap, record)) + b"]"
    if door == "JSON lines":
        return ("/v1/ingest?source=ndjson&format=json", {"Content-Type": "application/x-ndjson"},
                b"\n".join(_fill(cap, record)))
    if door == "OTLP protobuf":
        return "/v1/logs", {"Content-Type": "application/x-protobuf"}, _otlp_protobuf(cap, start)
    if door == "OTLP JSON":
        return "/v1/logs", json_type, _otlp_json(_fill(cap - 200, lambda i: orjson.dumps(_otlp_record(i, start))))
    loki_values = _fill(cap - 100, lambda i: orjson.dumps([str(NS + (start + i) * 1000),
                                                           f"level=info msg=\"{_message(start + i)}\""]))
    if door == "Loki JSON":
        return ("/loki/api/v1/push", json_type,
                b'{"streams":[{"stream":{"service_name":"payments","env":"prod"},"values":['
                + b",".join(loki_values) + b"]}]}")
    if door != "Loki protobuf":
        raise ValueError(f"unknown door {door!r}; doors: {', '.join(DOORS)}")
    from logai.doors.loki_proto import PushRequest

    push = PushRequest()
    stream = push.streams.add(labels='{service_name="payments", env="prod"}')
    for value in loki_values:
        ts, line = orjson.loads(value)
        entry = stream.entries.add(line=line)
        entry.timestamp.seconds, entry.timestamp.nanos = divmod(int(ts), 1_000_000_000)
    # a protobuf push of the same entries is smaller: as many entries as fit the cap uncompressed
    while push.ByteSize() > cap - 100:
        del stream.entries[len(stream.entries) * 9 // 10:]
    return ("/loki/api/v1/push", {"Content-Type": "application/x-protobuf"},
            bytes(cramjam.snappy.compress_raw(push.SerializeToString())))


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def door_memory(base: str, pid: int, cap: int, door: str, rounds: int = 3, headers: dict[str, str] | None = None
                ) -> dict:
    """Body size, seconds of the last round and largest RSS growth (MB and over the cap) of `rounds` bodies of
    one door into a server of its own; the first round warms what is meant to stay (its growth, which holds
    the parser state and allocator arenas as well as the request, is reported apart). The same body grows RSS
    by up to 1.5 MB more or less from one round to the next (the allocator's state), so the least growth of the
    later rounds (`least_over_cap`) is reported beside the largest."""
    growths, seconds, size = [], 0.0, 0
    for round_number in range(rounds):
        path, door_headers, payload = body(door, cap, start=round_number * 1_000_000)
        stop, peak = threading.Event(), [rss_bytes(pid)]
        before = peak[0]

        def sample(stop: threading.Event = stop, peak: list[int] = peak) -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], rss_bytes(pid))
                stop.wait(0.01)

        sampler = threading.Thread(target=sample)
        sampler.start()
        r = httpx.post(base + path, content=payload, headers={**door_headers, **(headers or {})}, timeout=600)
        stop.set()
        sampler.join()
        if r.status_code not in (200, 204):
            raise RuntimeError(f"{door}: {r.status_code} {r.text[:300]}")
        growths.append(peak[0] - before)
        seconds, size = r.elapsed.total_seconds(), len(payload)
    growth = max(growths[1:])
    return {"body_mb": round(size / 2**20, 2), "seconds": round(seconds, 2), "rss_growth_mb": round(growth / 2**20, 1),
            "over_cap": round(growth / cap, 2), "least_over_cap": round(min(growths[1:]) / cap, 2),
            "first_growth_mb": round(growths[0] / 2**20, 1), "first_over_cap": round(growths[0] / cap, 2)}


@contextmanager
def pg_schema(admin_url: str) -> Iterator[str]:
    """A URL into a fresh schema of a PostgreSQL server, dropped afterwards."""
    from sqlalchemy import create_engine, text

    admin, schema = create_engine(admin_url), f"m_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
        yield f"{admin_url}?options=-csearch_path%3D{schema}"
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    finally:
        admin.dispose()


def every_door(folder: Path, cap: int, admin_url: str, rounds: int = 4) -> dict[str, dict]:
    """`door_memory` of each door, each into a `logai serve` of its own over PostgreSQL."""
    from pipelines.local_services import ServeProcess

    out = {}
    for number, door in enumerate(tqdm(DOORS, desc="door memory", unit="door")):
        with pg_schema(admin_url) as url:
            home = folder / f"door-{number}"
            home.mkdir()
            # short records: a cap-sized body holds more than the default 100,000 per request; verdicts off:
            # this measures the door (their bounded caches, route.cache_size and the embedder's, fill over time)
            server = ServeProcess(home, f"api:\n  max_request_bytes: {cap}\n  max_lines_per_request: 1000000\n"
                                        f"store:\n  url: {url}\nroute:\n  ingest_task: null\n")
            try:
                out[door] = door_memory(server.base, server.proc.pid, cap, door, rounds)
            finally:
                server.stop()
    return out
