"""Alerts and the Loki read API benchmark (issue 18): real `logai serve` processes, Debian's Alertmanager.

    python pipelines/bench_alerts.py --out reports/alerts

1. Latency: N bursts of failing lines, each from a source of its own, into a server with the default
   configuration (shipped router, LLM on); from the ingest request to the alert in Alertmanager's own
   /api/v2/alerts (polled every 20 ms), beside the ingest request's own time. Then the incident summaries:
   who wrote them (LLM or template), their tokens and forward passes (speculative decoding).
2. Flood: 10,000 failing lines of one source in one request: incidents, Alertmanager alerts and webhook
   messages it makes.
3. Outage: Alertmanager down while K incidents open; started 60 s later, how many alerts arrive and when.
4. Patterns: 1,000,000 lines from 10 sources over 24 h ingested, then `/loki/api/v1/patterns` as Grafana's
   Logs Drilldown asks it (one service over 1 h, 6 h, 24 h; every service over 1 h), p50/p99 of whole HTTP
   requests, beside `/v1/templates` of one source in the same run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logai.incidents.service import PENDING  # noqa: E402
from pipelines.alert_peers import Alertmanager, WebhookSink  # noqa: E402
from pipelines.local_services import ServeProcess, wait_for  # noqa: E402
from pipelines.reporting import write_report  # noqa: E402
from tests.test_alerts import failing_lines  # noqa: E402

DAY_START = 1_764_460_800  # 2025-11-30T00:00:00Z


def quantiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"n": len(ordered), "p50": round(statistics.median(ordered), 3),
            "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3), "max": round(ordered[-1], 3)}


def alert_config(am_url: str, hook_url: str | None = None, extra: str = "") -> str:
    hooks = f"  webhooks:\n    - url: {hook_url}\n      name: oncall\n" if hook_url else ""
    return f"alerts:\n  alertmanager_url: {am_url}\n  backoff_s: 0.5\n  max_backoff_s: 5\n{hooks}{extra}"


def latency_and_flood(folder: Path, bursts: int) -> dict[str, Any]:
    am = Alertmanager(folder / "am").start()
    hook = WebhookSink()
    server = ServeProcess(folder / "serve", alert_config(am.url, hook.url))
    try:
        alert_s, ingest_s = [], []
        for i in tqdm(range(bursts), desc="alert latency", unit="incident"):
            source = f"svc-{i}"
            started = time.perf_counter()
            r = httpx.post(f"{server.base}/v1/ingest?source={source}", content=failing_lines(3, start=i * 10),
                           timeout=120)
            ingest_s.append(time.perf_counter() - started)
            r.raise_for_status()
            if wait_for(lambda source=source: am.alerts(source=source), timeout=120) is None:
                alert_s.append(float("inf"))
            else:
                alert_s.append(time.perf_counter() - started)
            time.sleep(0.5)
        # the summaries: the LLM's (as far as its fields pass the checks) replace the pending ones as it gets to them
        wait_for(lambda: all((i["summary"] or {}).get("note") != PENDING for i in incidents(server.base)),
                 timeout=300, every=2)
        summaries = [i for i in incidents(server.base) if i["source"].startswith("svc-")]
        by_llm = [i["summary"] for i in summaries if i["summary_by"] == "llm"]
        asked = [i["summary"] for i in summaries if "tokens" in (i["summary"] or {})]  # the LLM answered
        tokens = [s["tokens"] for s in asked]
        flood_started = time.perf_counter()
        r = httpx.post(f"{server.base}/v1/ingest?source=flood", content=failing_lines(5000, start=100_000),
                       timeout=600)  # 5,000 failing + 5,000 ordinary lines
        flood_ingest_s = time.perf_counter() - flood_started
        wait_for(lambda: am.alerts(source="flood"), timeout=120)
        time.sleep(10)  # let every signal of the flood be grouped and any extra alert go out
        flood_incidents = [i for i in incidents(server.base) if i["source"] == "flood"]
        flood_hooks = [p for p in hook.payloads() if p["incident"]["source"] == "flood" and p["kind"] == "firing"]
        return {
            "latency": {"alert_s": quantiles(alert_s), "ingest_request_s": quantiles(ingest_s)},
            "summaries": {"incidents": len(summaries), "by_llm": len(by_llm), "llm_answered": len(asked),
                          "llm_fields_kept": sum(sum(1 for who in (s.get("fields_by") or {}).values() if who == "llm")
                                                 for s in asked),
                          "completion_tokens": quantiles([t.get("completion", 0) for t in tokens]) if tokens else None,
                          "tokens_per_forward_pass": round(sum(t.get("completion", 0) for t in tokens)
                                                           / max(1, sum(t.get("forward_passes", 0) for t in tokens)),
                                                           2) if tokens else None,
                          "example": by_llm[0] if by_llm else (summaries[0]["summary"] if summaries else None)},
            "flood": {"lines": 10_000, "failing_lines": 5000, "ingest_s": round(flood_ingest_s, 2),
                      "incidents": len(flood_incidents), "signals": sum(i["count"] for i in flood_incidents),
                      "alertmanager_alerts": len(am.alerts(source="flood")),
                      "webhook_firing_messages": len(flood_hooks)},
        }
    finally:
        server.stop()
        am.stop()
        hook.stop()


def incidents(base: str) -> list[dict[str, Any]]:
    return httpx.get(f"{base}/v1/incidents?limit=500", timeout=30).json()["items"]


def outage(folder: Path, count: int, down_s: float) -> dict[str, Any]:
    am = Alertmanager(folder / "am")  # nothing listens on its port yet
    server = ServeProcess(folder / "serve", alert_config(am.url))
    try:
        for i in range(count):
            httpx.post(f"{server.base}/v1/ingest?source=down-{i}", content=failing_lines(3, start=i * 10),
                       timeout=120).raise_for_status()
        time.sleep(down_s)
        failed = httpx.get(f"{server.base}/metrics", timeout=10).text.count('outcome="failed"')
        am.start()
        back = time.perf_counter()
        arrived = wait_for(lambda: len({a["labels"]["source"] for a in am.alerts()}) >= count and am.alerts(),
                           timeout=120)
        return {"incidents": count, "down_s": down_s, "alerts_after": len({a["labels"]["source"] for a in am.alerts()}),
                "lost": count - len({a["labels"]["source"] for a in am.alerts()}),
                "seconds_after_alertmanager_up": round(time.perf_counter() - back, 2) if arrived else None,
                "dead_letters": len(httpx.get(f"{server.base}/v1/alerts/deliveries?state=dead", timeout=10).json()),
                "failed_attempt_series": failed}
    finally:
        server.stop()
        am.stop()


TEMPLATES = ["user {u} logged in from 10.{a}.{b}.{c}", "GET /api/v1/items/{n} answered {code} in {ms} ms",
             "cache miss for key session:{n}", "job {n} finished in {ms} ms with {k} records",
             "connection to db-{a} pool {b} established", "retrying request {n} after {ms} ms (attempt {k})",
             "disk usage on /dev/sd{c} at {k}%", "payment {n} declined: code={code}",
             "worker {a} heartbeat ok", "queue depth {n} on topic orders-{a}"]


def synthetic_lines(count: int, sources: int, seed: int = 7) -> dict[str, list[bytes]]:
    """`count` lines over one day from `sources` sources, each with its own variants of the templates."""
    rng = random.Random(seed)
    out: dict[str, list[bytes]] = {f"src-{s}": [] for s in range(sources)}
    for i in range(count):
        source = f"src-{i % sources}"
        ts = datetime.fromtimestamp(DAY_START + i * 86400 / count, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        template = TEMPLATES[rng.randrange(len(TEMPLATES))]
        variant = rng.randrange(5)
        message = f"{source} step{variant} " + template.format(
            u=rng.randrange(1000), a=rng.randrange(8), b=rng.randrange(256), c=rng.randrange(256),
            n=rng.randrange(10**6), code=rng.choice([200, 404, 500, 503]), ms=rng.randrange(2000), k=rng.randrange(100))
        level = "ERROR" if "declined" in template or "500" in message else "INFO"
        out[source].append(f"{ts} {level} {message}".encode())
    return out


def patterns(folder: Path, lines: int, repeats: int) -> dict[str, Any]:
    server = ServeProcess(folder / "serve", "route:\n  ingest_task: null\n  llm: false\nalerts:\n  enabled: false\n"
                                            "detect:\n  enabled: false\n")
    try:
        per_source = synthetic_lines(lines, 10)
        started = time.perf_counter()
        with tqdm(total=lines, desc="ingest", unit="line") as bar:
            for source, source_lines in per_source.items():
                for lo in range(0, len(source_lines), 50_000):
                    chunk = source_lines[lo:lo + 50_000]
                    r = httpx.post(f"{server.base}/v1/ingest?source={source}", content=b"\n".join(chunk), timeout=600)
                    r.raise_for_status()
                    bar.update(len(chunk))
        ingest_s = time.perf_counter() - started
        end = DAY_START + 86400
        shapes = {"1 service, last 1 h": ('{service_name="src-3"}', 3600, "60s"),
                  "1 service, last 6 h": ('{service_name="src-3"}', 6 * 3600, "5m"),
                  "1 service, 24 h": ('{service_name="src-3"}', 86400, "15m"),
                  "every service, last 1 h": ('{service_name=~"src-.*"}', 3600, "60s")}
        timings: dict[str, Any] = {}
        with httpx.Client(base_url=server.base, timeout=60) as client:
            for name, (query, span, step) in shapes.items():
                params = {"query": query, "start": str((end - span) * 10**9), "end": str(end * 10**9), "step": step}
                seconds, body = [], None
                for _ in range(repeats):
                    t = time.perf_counter()
                    response = client.get("/loki/api/v1/patterns", params=params)
                    seconds.append(time.perf_counter() - t)
                    body = response.json()
                timings[name] = {**quantiles([s * 1000 for s in seconds]), "patterns": len(body["data"]),
                                 "samples": sum(len(p["samples"]) for p in body["data"])}
            seconds = []
            for _ in range(repeats):
                t = time.perf_counter()
                client.get("/v1/templates", params={"source": "src-3", "limit": 100}).raise_for_status()
                seconds.append(time.perf_counter() - t)
            baseline = quantiles([s * 1000 for s in seconds])
            stored = client.get("/v1/stats").json()
        return {"lines": lines, "ingest_s": round(ingest_s, 1), "stored_events": stored.get("events"),
                "templates": stored.get("templates"), "patterns_ms": timings, "baseline_v1_templates_ms": baseline}
    finally:
        server.stop()


def markdown(r: dict[str, Any]) -> str:
    lat, summ, flood, out, pat = r["latency"], r["summaries"], r["flood"], r["outage"], r["patterns"]
    rows = [f"| {name} | {t['p50']} | {t['p99']} | {t['patterns']} | {t['samples']} |"
            for name, t in pat["patterns_ms"].items()]
    return "\n".join([
        "# Alerts and the Loki read API (issue 18)", "",
        f"Machine: {r['machine']}. Whole HTTP requests to real `logai serve` processes; Debian's Alertmanager "
        "0.25 as the receiver.", "",
        "## Alert latency (default configuration: shipped router, LLM on)", "",
        "| | n | p50 s | p99 s | max s |", "|---|---|---|---|---|",
        f"| ingest request to the alert in Alertmanager | {lat['alert_s']['n']} | {lat['alert_s']['p50']} | "
        f"{lat['alert_s']['p99']} | {lat['alert_s']['max']} |",
        f"| the ingest request alone (baseline) | {lat['ingest_request_s']['n']} | {lat['ingest_request_s']['p50']} | "
        f"{lat['ingest_request_s']['p99']} | {lat['ingest_request_s']['max']} |", "",
        f"Summaries: the LLM answered for {summ.get('llm_answered', summ['by_llm'])} of {summ['incidents']} incidents; "
        f"{summ.get('llm_fields_kept', '-')} of its fields passed the checks (`logai/incidents/summary_checks.py`), "
        f"and {summ['by_llm']} summaries kept a title, cause or step of its own (the rest: the template's); "
        f"completion tokens {summ['completion_tokens']}, {summ['tokens_per_forward_pass']} tokens per forward pass "
        "(speculative decoding).", "",
        f"Example summary: `{summ['example']}`", "",
        "## One flood, one alert", "",
        f"{flood['lines']:,} lines ({flood['failing_lines']:,} failing) in one request ({flood['ingest_s']} s): "
        f"{flood['incidents']} incident(s) holding {flood['signals']:,} signals, {flood['alertmanager_alerts']} "
        f"Alertmanager alert(s), {flood['webhook_firing_messages']} webhook firing message(s).", "",
        "## Alertmanager down", "",
        f"{out['incidents']} incidents opened while Alertmanager was down for {out['down_s']:.0f} s: "
        f"{out['alerts_after']} alerts arrived {out['seconds_after_alertmanager_up']} s after it came up; "
        f"lost {out['lost']}, dead letters {out['dead_letters']}.", "",
        f"## `/loki/api/v1/patterns` over {pat['stored_events']:,} stored events", "",
        f"{pat['lines']:,} lines from 10 sources over 24 h ingested in {pat['ingest_s']} s "
        f"({pat['templates']} templates).", "",
        "| query | p50 ms | p99 ms | patterns | samples |", "|---|---|---|---|---|", *rows,
        f"| baseline: `/v1/templates?source=src-3` | {pat['baseline_v1_templates_ms']['p50']} | "
        f"{pat['baseline_v1_templates_ms']['p99']} | | |", "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "alerts")
    parser.add_argument("--bursts", type=int, default=20)
    parser.add_argument("--down-s", type=float, default=60.0)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    import os
    import platform

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        report: dict[str, Any] = {"machine": f"{platform.machine()}, {os.cpu_count()} cores"}
        report.update(latency_and_flood(folder / "latency", args.bursts))
        report["outage"] = outage(folder / "outage", 5, args.down_s)
        report["patterns"] = patterns(folder / "patterns", args.lines, args.repeats)
    write_report(args.out, report, markdown)


if __name__ == "__main__":
    main()
