"""Throughput of each door into SQLite, beside `/v1/ingest` in the same run.

The same messages (HDFS-like, from `pipelines/hdfs_like.py`) go through every door of a fresh `logai serve`
process on defaults (semantics and in-stream detection on): `/v1/ingest` (the baseline: the messages as plain
text, `plain` format, so they are mined with the same default masking as at every door; and, for reference,
the raw HDFS lines in the `HDFS` format, which adds a masking rule of its own), OTLP/HTTP (protobuf
`ExportLogsServiceRequest`, batches of 512), Loki push (snappy protobuf, batches of 512) and syslog over TCP
(RFC 5424, octet-counted). Bodies are encoded before the clock starts; the clock runs from the first byte
sent until `/v1/stats` counts every line stored. Each door runs `--repeat` times on a fresh server and data
folder, interleaved; the report gives medians and the ratio to the baseline.

    python pipelines/bench_doors.py --lines 100000 --out reports/doors
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import snappy  # noqa: E402
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest  # noqa: E402

from logai.doors.loki_proto import PushRequest  # noqa: E402
from pipelines.hdfs_like import generate  # noqa: E402
from pipelines.local_services import ServeProcess, free_port  # noqa: E402
from pipelines.reporting import write_report  # noqa: E402

BATCH = 512
BASELINE = "/v1/ingest (the messages, plain format)"


def messages(n: int) -> list[tuple[str, str, str, str, datetime]]:
    """(raw HDFS line, level, component, message, time) for `n` generated lines; every door carries the
    line's own time (HDFS headers have whole seconds), so all of them send the same information."""
    out = []
    for line in generate(n):
        date, clock, _, level, rest = line.split(" ", 4)
        component, _, message = rest.partition(": ")
        when = datetime.strptime(date + clock, "%y%m%d%H%M%S").replace(tzinfo=UTC)
        out.append((line, level, component.rstrip(":"), message, when))
    return out


def http_bodies(items, field: int = 0) -> list[bytes]:
    """Plain-text bodies of `BATCH` lines: the raw HDFS lines (field 0) or the messages alone (field 3)."""
    return [("\n".join(m[field] for m in items[i:i + BATCH]) + "\n").encode() for i in range(0, len(items), BATCH)]


def otlp_bodies(items) -> list[bytes]:
    bodies = []
    for i in range(0, len(items), BATCH):
        request = ExportLogsServiceRequest()
        resource = request.resource_logs.add()
        resource.resource.attributes.add(key="service.name").value.string_value = "hdfs"
        scope = resource.scope_logs.add()
        for _, level, component, message, when in items[i:i + BATCH]:
            record = scope.log_records.add(time_unix_nano=int(when.timestamp() * 1e9), severity_text=level)
            record.body.string_value = message
            record.attributes.add(key="component").value.string_value = component
        bodies.append(request.SerializeToString())
    return bodies


def loki_bodies(items) -> list[bytes]:
    bodies = []
    for i in range(0, len(items), BATCH):
        request = PushRequest()
        streams: dict[str, object] = {}
        for _, level, component, message, when in items[i:i + BATCH]:
            stream = streams.get(level)
            if stream is None:
                stream = streams[level] = request.streams.add(labels=f'{{service_name="hdfs", level="{level}"}}')
            entry = stream.entries.add(line=message)  # type: ignore[attr-defined]
            nanos = int(when.timestamp() * 1e9)
            entry.timestamp.seconds, entry.timestamp.nanos = divmod(nanos, 1_000_000_000)
            entry.structuredMetadata.add(name="component", value=component)
        bodies.append(snappy.compress(request.SerializeToString()))
    return bodies


def syslog_stream(items) -> bytes:
    severity = {"INFO": 6, "WARN": 4, "ERROR": 3}
    frames = []
    for _, level, _, message, when in items:
        frame = (f"<{8 + severity.get(level, 6)}>1 {when.isoformat().replace('+00:00', 'Z')} dn1 hdfs - - - "
                 f"{message}").encode()
        frames.append(b"%d %s" % (len(frame), frame))
    return b"".join(frames)


class Server(ServeProcess):
    """A fresh `logai serve` with a syslog port and room for 100k-record bodies."""

    def __init__(self, folder: Path):
        self.syslog_port = free_port()
        super().__init__(folder, "api:\n  max_request_bytes: 67108864\n", ["--syslog-port", str(self.syslog_port)])

    def stored(self) -> int:
        return int(httpx.get(f"{self.base}/v1/stats", timeout=60).json()["events"])


def post_all(url: str, bodies: list[bytes], headers: dict[str, str]) -> None:
    with httpx.Client(timeout=120) as client:
        for body in bodies:
            response = client.post(url, content=body, headers=headers)
            response.raise_for_status()


def run_door(name: str, send: Callable[[Server], None], n: int) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="bench-doors-"))
    server = Server(folder)
    try:
        started = time.perf_counter()
        send(server)
        while server.stored() < n:
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        assert server.stored() == n, f"{name}: stored {server.stored()} of {n}"
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return {"seconds": elapsed, "lines_per_s": n / elapsed, "startup_s": server.startup_s}


def send_syslog(payload: bytes) -> Callable[[Server], None]:
    def send(server: Server) -> None:
        with socket.create_connection(("127.0.0.1", server.syslog_port)) as conn:
            conn.sendall(payload)
    return send


def markdown(report: dict) -> str:
    lines = [f"# Doors in: lines/s into SQLite, {report['lines']:,} lines, median of {report['repeat']}", "",
             f"`{report['command']}` on {report['hardware']}", "",
             "| door | lines/s (median) | vs baseline: ratio of medians | median of per-round ratios | "
             "runs (lines/s) | server start-up (s, median) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for door, row in report["doors"].items():
        runs = ", ".join(f"{v:,.0f}" for v in row["runs"])
        lines.append(f"| {door} | {row['median']:,.0f} | {row['ratio']:.2f}x | {row['round_ratio']:.2f}x | {runs} | "
                     f"{row['startup_s']:.1f} |")
    lines += ["", "Bodies are encoded before the clock starts; the clock stops when `/v1/stats` counts every line. "
              f"Ratios are to `{BASELINE}`: the same messages mined with the same default masking as every door. "
              "The HDFS format adds a masking rule for HDFS block ids that no door uses, so its row is a second "
              "reference. Target: each door at least 0.80x of `/v1/ingest`.", ""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("reports/doors"))
    args = ap.parse_args()
    items = messages(args.lines)
    http, plain = http_bodies(items), http_bodies(items, field=3)
    otlp, loki = otlp_bodies(items), loki_bodies(items)
    # The baseline mines the same messages with the same (default) masking as the doors; the HDFS format adds
    # a masking rule of its own (block ids), which no door uses, so it is a second reference, not the baseline.
    doors: dict[str, Callable[[Server], None]] = {
        BASELINE: lambda s: post_all(f"{s.base}/v1/ingest?source=hdfs&format=plain", plain,
                                     {"Content-Type": "text/plain"}),
        "/v1/ingest (HDFS lines, HDFS format)": lambda s: post_all(
            f"{s.base}/v1/ingest?source=hdfs&format=HDFS", http, {"Content-Type": "text/plain"}),
        "OTLP/HTTP protobuf": lambda s: post_all(f"{s.base}/v1/logs", otlp, {"Content-Type": "application/x-protobuf"}),
        "Loki push (snappy protobuf)": lambda s: post_all(
            f"{s.base}/loki/api/v1/push", loki, {"Content-Type": "application/x-protobuf"}),
        "syslog TCP (RFC 5424, octet-counted)": send_syslog(syslog_stream(items)),
    }
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in doors}
    for round_number in range(args.repeat):  # interleaved, so drift in machine load hits every door alike
        for name, send in doors.items():
            runs[name].append(run_door(name, send, args.lines))
            print(f"round {round_number + 1}: {name}: {runs[name][-1]['lines_per_s']:,.0f} lines/s", flush=True)
    baseline = statistics.median(r["lines_per_s"] for r in runs[BASELINE])
    report = {
        "lines": args.lines, "repeat": args.repeat, "batch": BATCH,
        "command": " ".join(["python", *sys.argv]),
        "hardware": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {platform.system()}",
        "doors": {name: {"median": statistics.median(r["lines_per_s"] for r in rows),
                         "ratio": statistics.median(r["lines_per_s"] for r in rows) / baseline,
                         # each round runs every door under the same machine load: the ratio within a round,
                         # then its median over rounds, cancels load that drifts between rounds
                         "round_ratio": statistics.median(r["lines_per_s"] / b["lines_per_s"]
                                                          for r, b in zip(rows, runs[BASELINE], strict=True)),
                         "runs": [r["lines_per_s"] for r in rows],
                         "startup_s": statistics.median(r["startup_s"] for r in rows)}
                  for name, rows in runs.items()},
    }
    write_report(args.out, report, markdown)


if __name__ == "__main__":
    main()
