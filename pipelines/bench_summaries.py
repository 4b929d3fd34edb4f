"""What the person on call reads: incidents and their summaries from a real `logai serve` on embedded defaults.

    python pipelines/bench_summaries.py --data ../shared/data --out reports/summaries [--baseline-checkout DIR]

The 14 Loghub 2k logs (each as its own source, in its own format) and the example log go to `POST /v1/ingest`;
the incidents the shipped router's verdicts open are read back from `GET /v1/incidents/{id}` once every
summary is final (the LLM's, or the template's when the LLM's answer is off-contract). For each summary: who
wrote each field, and what `logai.incidents.summary_checks` says of the fields the LLM wrote as shown (for
the baseline, which shows the LLM's fields unchecked, the same checks count what a person would have read;
for this checkout they can only find what a change of the checks let through). All summaries
are listed in the Markdown so a reader can judge them, not only the counts. `--baseline-checkout`: the same
run with an older logai (a git worktree), in the same process environment, before this one.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logai.incidents.service import PENDING  # noqa: E402
from logai.incidents.summary_checks import FIELDS, check  # noqa: E402
from pipelines.local_services import ServeProcess, wait_for  # noqa: E402
from pipelines.reporting import write_report  # noqa: E402

EXAMPLE = ROOT / "examples" / "logs" / "payments-api.log"


def inputs(data: Path) -> list[tuple[str, str, bytes]]:
    """(source, format, body): each Loghub system's 2k log, then the example log."""
    logs = sorted((p.parent.name, p) for p in (data / "loghub_2k").glob("*/*_2k.log"))
    return [(system.lower(), system, path.read_bytes()) for system, path in logs] + \
        [("payments-api", "log4j", EXAMPLE.read_bytes())]


def incidents(base: str) -> list[dict[str, Any]]:
    page = httpx.get(f"{base}/v1/incidents", params={"limit": 500}, timeout=30).json()
    return [httpx.get(f"{base}/v1/incidents/{i['id']}", timeout=30).json() for i in page["items"]]


def run(data: Path, folder: Path, checkout: Path | None) -> dict[str, Any]:
    """One `logai serve` on embedded defaults (LLM summaries on), fed every log, read back when summarised."""
    started = time.perf_counter()
    server = ServeProcess(folder, checkout=checkout)
    try:
        for source, fmt, body in inputs(data):
            response = httpx.post(f"{server.base}/v1/ingest", params={"source": source, "format": fmt},
                                  content=body, timeout=300)
            response.raise_for_status()
        ingested = time.perf_counter() - started
        rows = wait_for(lambda: _final(incidents(server.base)), timeout=1800, every=5)
        if not rows:
            raise RuntimeError(f"summaries not final in 30 min; see {server.log}")
        return {"seconds_to_ingest": round(ingested, 1), "seconds_to_last_summary": round(time.perf_counter()
                                                                                           - started, 1),
                "incidents": [score(row) for row in rows]}
    finally:
        server.stop()


def _final(rows: list[dict[str, Any]]) -> list[dict[str, Any]] | None:
    """The incidents, once none waits for its LLM summary."""
    return rows if rows and all((r["summary"] or {}).get("note") != PENDING for r in rows) else None


def score(row: dict[str, Any]) -> dict[str, Any]:
    """A summary as shown, who wrote each field and what the checks find in it."""
    summary = row["summary"] or {}
    fields_by = summary.get("fields_by") or {name: row["summary_by"] for name in FIELDS}
    if str(summary.get("title") or "").startswith(f"{row['count']} abnormal signals in "):
        fields_by["title"] = "template"  # before fields_by, a title under 8 characters was replaced too
    shown = {name: summary.get(name) for name in FIELDS}
    return {"id": row["id"], "source": row["source"], "signals": row["count"], "summary_by": row["summary_by"],
            "fields_by": fields_by, "problems": check(shown, row), "summary": shown,
            "completion_tokens": (summary.get("tokens") or {}).get("completion")}


def totals(result: dict[str, Any]) -> dict[str, Any]:
    """Counts over a run's incidents. Failing fields are counted among those the LLM wrote: the template
    summary's own fields show templates with their `<*>`, which the checks (made for free text) would flag."""
    rows = result["incidents"]
    written = Counter((name, who) for r in rows for name, who in r["fields_by"].items())
    failing = [(name, why) for r in rows for name, why in r["problems"].items() if r["fields_by"][name] == "llm"]
    return {"incidents": len(rows), "signals": sum(r["signals"] for r in rows),
            "by_source": dict(Counter(r["source"] for r in rows)),
            "summary_by": dict(Counter(r["summary_by"] for r in rows)),
            "fields_by_llm": {name: written[(name, "llm")] for name in FIELDS},
            "free_text_fields_by_llm": sum(written[(name, "llm")] for name in ("title", "suspected_cause",
                                                                                "next_steps")),
            "llm_fields_failing": len(failing),
            "failing_fields": dict(Counter(f"{name}: {why}" for name, why in failing)),
            "seconds_to_ingest": result["seconds_to_ingest"],
            "seconds_to_last_summary": result["seconds_to_last_summary"]}


def markdown(report: dict[str, Any]) -> str:
    runs = report["runs"]
    out = ["# Incident summaries as the person on call reads them", "",
           f"Machine: {report['machine']}. Command: `{report['command']}`", "",
           "Every Loghub 2k log (its own source and format) and the example log through `POST /v1/ingest` of one "
           "`logai serve` on embedded defaults (shipped router, packaged SmolLM2-135M writing summaries); the "
           "incidents read back from `/v1/incidents/{id}` once every summary was final. A failing field is one "
           "that `logai/incidents/summary_checks.py` rejects as shown: a template id, a field's name, template "
           "markup, too few words, no word of the incident's logs, one event's value, or a copied log line.", "",
           "| run | incidents | signals | summaries by LLM / template | fields the LLM wrote (title, cause, "
           "affected, evidence, steps) | of its title, cause, steps: failing the checks | ingest s | "
           "last summary s |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for label, result in runs.items():
        t = result["totals"]
        by_llm = " / ".join(str(t["fields_by_llm"][name]) for name in FIELDS)
        out.append(f"| {label} | {t['incidents']} | {t['signals']} | {t['summary_by'].get('llm', 0)} / "
                   f"{t['summary_by'].get('template', 0)} | {by_llm} | **{t['llm_fields_failing']}** of "
                   f"{t['free_text_fields_by_llm']} | "
                   f"{t['seconds_to_ingest']} | {t['seconds_to_last_summary']} |")
    for label, result in runs.items():
        out += ["", f"## {label}: the LLM's fields that fail the checks, as shown", ""]
        out += [f"- {what}: {n}" for what, n in sorted(result["totals"]["failing_fields"].items(),
                                                         key=lambda kv: -kv[1])] or ["- none"]
        out += ["", f"## {label}: every summary", "", "| incident | source | signals | by | title | cause | "
                "affected | next steps |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in result["incidents"]:
            s = r["summary"]

            def cell(value: Any) -> str:
                text = "; ".join(map(str, value)) if isinstance(value, list) else str(value or "")
                return text.replace("|", "\\|").replace("\n", " ")[:160]

            out.append(f"| {r['id']} | {r['source']} | {r['signals']} | {r['summary_by']} | {cell(s['title'])} | "
                       f"{cell(s['suspected_cause'])} | {cell(s['affected'])} | {cell(s['next_steps'])} |")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "summaries")
    ap.add_argument("--baseline-checkout", type=Path, default=None, help="an older logai (git worktree)")
    ap.add_argument("--render", action="store_true", help="only write report.md again from report.json")
    args = ap.parse_args()
    if args.render:
        report = json.loads((args.out / "report.json").read_text())
        for result in report["runs"].values():
            result["totals"] = totals(result)
        write_report(args.out, report, markdown)
        return
    work = Path(tempfile.mkdtemp(prefix="bench-summaries-"))  # the servers' stores: not part of the report
    runs: dict[str, Any] = {}
    if args.baseline_checkout:
        rev = subprocess.run(["git", "-C", str(args.baseline_checkout), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True).stdout.strip()
        runs[f"baseline {rev}"] = run(args.data, work / "baseline", args.baseline_checkout.resolve())
    runs["this checkout"] = run(args.data, work / "current", None)
    for result in runs.values():
        result["totals"] = totals(result)
    write_report(args.out, {"machine": f"{platform.machine()}, {len(os.sched_getaffinity(0))} cores",
                            "command": " ".join(["python", *sys.argv]), "runs": runs}, markdown)


if __name__ == "__main__":
    main()
