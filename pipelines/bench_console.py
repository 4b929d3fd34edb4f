"""Console benchmark (issue 19): pages and the API calls behind them over 1,000,000 stored events (SQLite).

    python pipelines/bench_console.py --out reports/console

A real `logai serve` with 1M lines from 10 sources over 24 h ingested (verdicts off: the store's size is
what is measured), then (1) the API calls the pages make, whole HTTP requests, p50/p95 of `--repeats`, and
(2) each page in Debian's Chromium: first contentful paint and the time until its data is drawn (`main h1`),
median of 5 loads. The front-end payload, gzipped, beside.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logai.console import STATIC  # noqa: E402
from pipelines.bench_alerts import synthetic_lines  # noqa: E402
from pipelines.local_services import ServeProcess  # noqa: E402
from pipelines.reporting import write_report  # noqa: E402

CALLS = {
    "templates page: /v1/templates?limit=50": ("/v1/templates", {"limit": 50}),
    "templates page: /v1/template-series of 50": ("/v1/template-series", {"id": "TOP50"}),
    "events page: /v1/events?limit=100": ("/v1/events", {"limit": 100}),
    "search by source and level": ("/v1/events", {"source": "src-3", "level": "ERROR", "limit": 100}),
    "search by template": ("/v1/events", {"template_id": None, "limit": 100}),
    "search by text (q=)": ("/v1/events", {"q": "declined", "limit": 100}),
    "search by concept value": ("/v1/events", {"value": "503", "limit": 100}),
    "overview: /v1/stats": ("/v1/stats", {}),
    "overview: /v1/timeline": ("/v1/timeline", {"minutes": 60}),
    "overview: /v1/incidents?state=active": ("/v1/incidents", {"state": "active"}),
}
PAGES = ["#/", "#/incidents", "#/verdicts", "#/templates", "#/events", "#/events?q=declined", "#/settings"]


def quantiles(ms: list[float]) -> dict[str, float]:
    ordered = sorted(ms)
    return {"p50": round(statistics.median(ordered), 1), "p95": round(ordered[int(len(ordered) * 0.95) - 1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "reports" / "console")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as tmp:
        server = ServeProcess(Path(tmp), "route:\n  ingest_task: null\n  llm: false\ndetect:\n  enabled: false\n")
        try:
            started = time.perf_counter()
            with tqdm(total=args.lines, desc="ingest", unit="line") as bar:
                for source, lines in synthetic_lines(args.lines, 10).items():
                    for lo in range(0, len(lines), 50_000):
                        chunk = lines[lo:lo + 50_000]
                        httpx.post(f"{server.base}/v1/ingest?source={source}", content=b"\n".join(chunk),
                                   timeout=600).raise_for_status()
                        bar.update(len(chunk))
            ingest_s = time.perf_counter() - started
            calls: dict[str, Any] = {}
            with httpx.Client(base_url=server.base, timeout=120) as client:
                top = [t["template_id"] for t in client.get("/v1/templates", params={"limit": 50}).json()["templates"]]
                for name, (path, params) in tqdm(CALLS.items(), desc="API calls"):
                    params = {k: (top[0] if v is None else top if v == "TOP50" else v) for k, v in params.items()}
                    ms = []
                    for _ in range(args.repeats):
                        t = time.perf_counter()
                        client.get(path, params=params).raise_for_status()
                        ms.append((time.perf_counter() - t) * 1000)
                    calls[name] = quantiles(ms)
            pages: dict[str, Any] = {}
            if chromium:
                from playwright.sync_api import sync_playwright

                with sync_playwright() as p:
                    browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                    page = browser.new_page()
                    for route in tqdm(PAGES, desc="pages"):
                        paint, ready = [], []
                        for _ in range(5):
                            page.goto("about:blank")
                            t = time.perf_counter()
                            page.goto(f"{server.base}/{route}")
                            page.wait_for_function("document.querySelector('main h1') && "
                                                   "document.querySelector('main h1').textContent !== ''")
                            ready.append((time.perf_counter() - t) * 1000)
                            paint.append(page.evaluate("performance.getEntriesByName('first-contentful-paint')[0]"
                                                       "?.startTime ?? -1"))
                        pages[route] = {"first_contentful_paint_ms": round(statistics.median(paint), 1),
                                        "data_drawn_ms": round(statistics.median(ready), 1)}
                    browser.close()
        finally:
            server.stop()
    shipped = b"".join(path.read_bytes() for path in sorted(STATIC.iterdir()))
    report = {"lines": args.lines, "ingest_s": round(ingest_s, 1), "api_ms": calls, "pages": pages,
              "payload_bytes": len(shipped), "payload_gzip_bytes": len(gzip.compress(shipped))}
    write_report(args.out, report, markdown)


def markdown(r: dict[str, Any]) -> str:
    api = [f"| {name} | {v['p50']} | {v['p95']} |" for name, v in r["api_ms"].items()]
    pages = [f"| `{route}` | {v['first_contentful_paint_ms']} | {v['data_drawn_ms']} |"
             for route, v in r["pages"].items()]
    return "\n".join([
        "# Console over 1M stored events (issue 19)", "",
        f"{r['lines']:,} lines from 10 sources over 24 h in SQLite (ingested in {r['ingest_s']} s). Whole HTTP "
        "requests; pages in Debian's Chromium, median of 5 loads.", "",
        "| API call | p50 ms | p95 ms |", "|---|---|---|", *api, "",
        "| page | first contentful paint ms | data drawn ms |", "|---|---|---|", *pages, "",
        f"Front-end payload: {r['payload_bytes']:,} bytes, {r['payload_gzip_bytes']:,} gzipped (target ≤ 300 KB).", ""])


if __name__ == "__main__":
    main()
