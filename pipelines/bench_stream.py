"""Streaming benchmark: lines produced to Kafka, consumed by `logai daemon`, parsed and stored; then queried.

    python pipelines/bench_stream.py --lines 1000000 --out reports/stream

- throughput: N HDFS-like lines are produced to a fresh Tansu broker (3 partitions, keyed by source), then one
  `logai daemon` process consumes them into SQLite (and, with --postgres, into PostgreSQL); lines/s from
  the daemon's start to the last event being queryable. The default daemon stores through a writer child
  process and gives every event a verdict of the shipped anomaly router (`route.ingest_task: anomaly`); the
  same run repeats SQLite with the store written inline (`store.writer_process: false`), and without verdicts
  (`route.ingest_task: null`), as baselines; `--profile-lines N` runs the daemon under cProfile and reports
  where its own process spends its time, by part of the product;
- latency: after the backlog is stored, marker lines are produced one at a time to the running daemon and
  polled for in the store; p50/p99 from produce to queryable;
- query: `GET /v1/events` with filters against the stored events, through a real uvicorn server and a
  concurrent HTTP client (httpx), p50/p99 per query kind.
Writes report.json and report.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from kafka import KafkaProducer  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from pipelines import hdfs_like  # noqa: E402
from pipelines.local_services import LOGAI, ServeProcess  # noqa: E402
from pipelines.reporting import write_report  # noqa: E402
from pipelines.tansu_broker import Broker  # noqa: E402

SOURCES = 3


def produce(bootstrap: str, lines, topic: str = "logs") -> int:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1, linger_ms=20, batch_size=256 * 1024)
    n = 0
    for i, line in enumerate(lines):
        producer.send(topic, key=f"hdfs-{i % SOURCES}".encode(), value=line.encode())
        n += 1
    producer.flush()
    producer.close()
    return n


def write_config(folder: Path, bootstrap: str, store_url: str | None, writer_process: bool = True,
                 verdicts: bool = True) -> Path:
    config = folder / "logai.yaml"
    formats = ", ".join(f"hdfs-{i}: HDFS" for i in range(SOURCES))
    url = f"url: '{store_url}', " if store_url else ""
    store = f"store: {{{url}writer_process: {str(writer_process).lower()}}}\n"
    config.write_text(
        f"data_dir: {folder / 'data'}\n{store}"
        "kafka:\n"
        f"  bootstrap_servers: ['{bootstrap}']\n  topics: [logs]\n  group_id: bench\n  output_topic: null\n"
        f"  max_poll_records: 5000\n  session_timeout_ms: 6000\n  heartbeat_interval_ms: 1000\n"
        f"  formats: {{{formats}}}\n"
        "logging: {level: WARNING}\n"
        + ("" if verdicts else "route: {ingest_task: null}\n"))
    return config


def _empty(url: str) -> None:
    """Drop every table of the schema `url` points into (a run needs an empty store)."""
    from sqlalchemy import MetaData

    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        meta.drop_all(engine)
    finally:
        engine.dispose()


def count_events(url: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM events")).scalar() or 0)
    except Exception:  # the schema is not there yet
        return 0
    finally:
        engine.dispose()


AREAS = [("kafka client", "/kafka/"), ("parsing", "/logai/parsing/"), ("semantics", "/logai/semantics/"),
         ("detection", "/logai/detect/"), ("verdicts", "/logai/route/"), ("verdicts", "/logai/slm/"),
         ("store", "/logai/store/"), ("store", "sqlalchemy"), ("store", "sqlite3"),
         ("service and doors", "/logai/"), ("torch", "/torch/")]


def profile_by_area(path: Path) -> dict[str, Any]:
    """The daemon's own CPU (own time of every function, so nothing is counted twice) by part of the product."""
    import pstats

    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    areas: dict[str, float] = defaultdict(float)
    functions = []
    for (filename, line, name), (_, _, own, _cumulative, _) in stats.items():
        area = next((label for label, part in AREAS if part in filename), "python and other")
        areas[area] += own
        functions.append((own, f"{Path(filename).name}:{line}({name})", area))
    total = sum(areas.values())
    functions.sort(reverse=True)
    return {"seconds": round(total, 1),
            "areas": {k: round(v / total, 3) for k, v in sorted(areas.items(), key=lambda kv: -kv[1])},
            "top": [{"function": f, "area": a, "share": round(own / total, 3)} for own, f, a in functions[:15]]}


def throughput(n_lines: int, store_url: str | None, label: str, writer_process: bool = True,
               profile: Path | None = None, verdicts: bool = True, checkout: Path | None = None) -> dict[str, Any]:
    """One daemon's run over `n_lines` fresh lines; `checkout`: run the logai of that source tree instead."""
    broker = Broker()
    try:
        broker.create_topic("logs", partitions=3)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            url = store_url or f"sqlite:///{folder / 'data' / 'logai.db'}"
            started = time.perf_counter()
            produced = produce(broker.bootstrap, hdfs_like.generate(n_lines, seed=11))
            produce_s = time.perf_counter() - started
            config = write_config(folder, broker.bootstrap, store_url, writer_process, verdicts)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            profiler = [sys.executable, "-m", "cProfile", "-o", str(profile)] if profile else []
            env = {**os.environ, "PYTHONPATH": str(checkout)} if checkout else None
            daemon = subprocess.Popen([*profiler, LOGAI, "--config", str(config), "daemon"],
                                      stdout=subprocess.DEVNULL, env=env)
            started, first = time.perf_counter(), None
            while (stored := count_events(url)) < produced:
                if daemon.poll() is not None:
                    raise RuntimeError(f"daemon exited with {daemon.returncode}")
                if stored and first is None:  # start-up: imports, models, joining the group, the first batch
                    first = time.perf_counter() - started, stored
                time.sleep(0.2)
            elapsed = time.perf_counter() - started
            first = first or (elapsed, 0)
            print(f"  [{label}] {produced:,} lines in {elapsed:.1f} s = {produced / elapsed:,.0f} lines/s",
                  flush=True)
            latencies = _measure_latency(broker.bootstrap, url)  # backlog drained: steady-state latency
            daemon.send_signal(signal.SIGTERM)
            exit_code = daemon.wait(timeout=120)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)  # the daemon and its writer, once reaped
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            return {"lines": produced, "produce_seconds": produce_s, "seconds": elapsed,
                    "lines_per_s": produced / elapsed, "first_stored_s": round(first[0], 2),
                    "after_first_lines_per_s": (produced - first[1]) / max(elapsed - first[0], 1e-9),
                    "daemon_exit_code": exit_code,
                    "daemon_cpu_seconds_total": round(cpu, 1),
                    "stored_after_markers": count_events(url), "latency_ms": latencies}
    finally:
        broker.stop()


def _measure_latency(bootstrap: str, url: str, markers: int = 50) -> dict[str, Any]:
    """Produce marker lines one at a time on the running daemon; time each until it is queryable."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=1)
    engine = create_engine(url)
    timings = []
    for i in range(markers):
        marker = f"latency-marker-{i}-{os.getpid()}"
        line = f"081109 235959 1 INFO dfs.DataNode: Heartbeat {marker} ok"
        sent = time.perf_counter()
        producer.send("logs", key=b"latency-probe", value=line.encode())
        producer.flush()
        deadline = sent + 60
        while time.perf_counter() < deadline:
            with engine.connect() as conn:  # an indexed lookup (source), so probing does not load the store
                found = conn.execute(text("SELECT 1 FROM events WHERE source = 'latency-probe' AND raw = :r"),
                                     {"r": line}).first()
            if found:
                timings.append((time.perf_counter() - sent) * 1000)
                break
            time.sleep(0.005)
    producer.close()
    engine.dispose()
    timings.sort()
    return {"markers": len(timings), "p50": statistics.median(timings) if timings else None,
            "p99": timings[min(len(timings) - 1, int(len(timings) * 0.99))] if timings else None}


def query_latency(n_events: int, requests: int, concurrency: int) -> dict[str, Any]:
    """Store n events through the service, start `logai serve`, and time filtered queries under load."""
    from logai.bootstrap import build_service
    from logai.config import Settings
    from logai.store.store import EventQuery

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        service = build_service(Settings(data_dir=folder / "data"))
        lines = [line.encode() for line in hdfs_like.generate(n_events, seed=12)]
        for start in range(0, len(lines), 5000):
            chunk = lines[start:start + 5000]
            service.ingest(chunk, source="hdfs", format_name="HDFS", door="bench",
                           keys=[f"q|{start + i}" for i in range(len(chunk))], first_line=start + 1)
        sample = service.store.events(EventQuery(limit=1))[0][0]
        service.close()
        server = ServeProcess(folder, "logging: {level: WARNING}\n")
        base = server.base
        try:
            value = next(p["value"] for p in sample["params"] if p["concept"] == "block") if any(
                p["concept"] == "block" for p in sample["params"]) else sample["params"][0]["value"]
            kinds = {
                "latest_100": {"limit": 100},
                "level": {"level": "WARNING", "limit": 100},
                "template": {"template_id": sample["template_id"], "limit": 100},
                "time_range": {"start": "2008-11-09T00:00:00", "end": "2008-11-09T06:00:00", "limit": 100},
                "concept_value": {"concept": "block", "value": value, "limit": 100},
                "source_and_level": {"source": "hdfs", "level": "INFO", "limit": 50},
            }
            return {kind: _load(base, params, requests, concurrency) for kind, params in kinds.items()}
        finally:
            server.stop()


def _load(base: str, params: dict[str, Any], requests: int, concurrency: int) -> dict[str, float]:
    timings: list[float] = []
    lock = threading.Lock()
    per_worker = requests // concurrency

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=30) as client:
            for _ in range(per_worker):
                t = time.perf_counter()
                r = client.get("/v1/events", params=params)
                r.raise_for_status()
                with lock:
                    timings.append((time.perf_counter() - t) * 1000)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    timings.sort()
    return {"requests": len(timings), "p50_ms": statistics.median(timings),
            "p99_ms": timings[min(len(timings) - 1, int(len(timings) * 0.99))]}


def markdown(report: dict[str, Any]) -> str:
    out = ["# Streaming benchmark", "", f"Machine: {report.get('machine', 'not recorded')}. "
           f"Command: `{report.get('command', 'not recorded')}`", "",
           "lines/s: from the daemon's start to the last line queryable; first event: seconds from the start to the "
           "first stored event (imports, models, joining the group); after it: lines/s from then on.", "",
           "| store | lines | lines/s | first event (s) | lines/s after it | produce→queryable p50 / p99 (ms) |",
           "| --- | --- | --- | --- | --- | --- |"]
    for label, row in report.get("throughput", {}).items():
        lat = row["latency_ms"]
        latency = f"{lat['p50']:.0f} / {lat['p99']:.0f}" if lat["p50"] is not None else "n/a"
        out.append(f"| {label} | {row['lines']:,} | **{row['lines_per_s']:,.0f}** | {row.get('first_stored_s', '')} | "
                   f"{row.get('after_first_lines_per_s', 0):,.0f} | {latency} |")
    if "profile" in report:
        prof = report["profile"]
        out += ["", f"Where the daemon's own process spends its CPU ({prof['lines']:,} lines under cProfile, "
                    f"{prof['seconds']} s of own time; the store writer's child process is not in it):", "",
                "| part | share |", "| --- | --- |"]
        out += [f"| {area} | {share:.1%} |" for area, share in prof["areas"].items()]
        out += ["", "| function | part | share |", "| --- | --- | --- |"]
        out += [f"| `{row['function']}` | {row['area']} | {row['share']:.1%} |" for row in prof["top"]]
    if "query" in report:
        out += ["", f"Query latency over {report['query_events']:,} stored events, "
                    f"{report['query_concurrency']} concurrent clients{report.get('query_note', '')}:", "",
                "| query | requests | p50 ms | p99 ms |", "| --- | --- | --- | --- |"]
        for kind, row in report["query"].items():
            out.append(f"| {kind} | {row['requests']} | {row['p50_ms']:.1f} | **{row['p99_ms']:.1f}** |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--postgres", default=None, help="also run into this PostgreSQL URL (schema must be empty)")
    ap.add_argument("--query-events", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--skip-query", action="store_true")
    ap.add_argument("--profile-lines", type=int, default=0,
                    help="also run the daemon under cProfile on this many lines (SQLite) and report by part")
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-sqlite", action="store_true", help="throughput into --postgres only")
    ap.add_argument("--profile-save", type=Path, default=None, help="keep the daemon's cProfile output here")
    ap.add_argument("--baseline-checkout", type=Path, default=None,
                    help="also run the default daemon from this source tree (e.g. a `git worktree` of an older "
                         "commit), in the same run")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "stream")
    args = ap.parse_args()
    report: dict[str, Any] = {"protocol": __doc__, "throughput": {},
                              "command": "python " + " ".join(sys.argv),
                              "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
                                         f"Python {platform.python_version()}"}
    if args.baseline_checkout and not args.skip_throughput:
        rev = subprocess.run(["git", "-C", str(args.baseline_checkout), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip() or str(args.baseline_checkout)
        stores = [("sqlite", None)] * (not args.skip_sqlite) + [("postgresql", args.postgres)] * bool(args.postgres)
        for store, url in stores:
            label = f"{store}, baseline {rev}"
            report["throughput"][label] = throughput(args.lines, url, label, checkout=args.baseline_checkout.resolve())
            if url:
                _empty(url)  # the next run starts from an empty schema too
    if not args.skip_throughput and not args.skip_sqlite:
        report["throughput"]["sqlite"] = throughput(args.lines, None, "sqlite")
        # baseline in the same run: the store written inline by the daemon's own process (one core)
        report["throughput"]["sqlite, inline writer"] = throughput(args.lines, None, "sqlite, inline writer",
                                                                   writer_process=False)
        # what the default verdict on every event costs: the same daemon with `route.ingest_task: null`
        report["throughput"]["sqlite, no verdicts"] = throughput(args.lines, None, "sqlite, no verdicts",
                                                                 verdicts=False)
    if args.postgres and not args.skip_throughput:
        report["throughput"]["postgresql"] = throughput(args.lines, args.postgres, "postgresql")
    if args.profile_lines:
        with tempfile.TemporaryDirectory() as tmp:
            path = args.profile_save or Path(tmp) / "daemon.prof"
            run = throughput(args.profile_lines, None, "sqlite, profiled", profile=path)
            report["profile"] = {"lines": run["lines"], **profile_by_area(path)}
    if not args.skip_query:
        report["query"] = query_latency(args.query_events, args.requests, args.concurrency)
        report["query_events"], report["query_concurrency"] = args.query_events, args.concurrency
    write_report(args.out, report, markdown)


if __name__ == "__main__":
    main()
