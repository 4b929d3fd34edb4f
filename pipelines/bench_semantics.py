"""Semantics benchmark: SemParser pair precision/recall/F1 and the cost of semantics on parsing speed.

    python pipelines/bench_semantics.py --data ../shared/data --out reports/semantics

Accuracy: for the six systems with pair gold (Android, Hadoop, Linux, OpenStack, Spark, Zookeeper), each
Loghub-2k line is parsed by logai with semantics on, exactly as the product does (pair model once per
template, recipes per line); a predicted (concept, instance) pair counts iff it is among the gold pairs of
that line (SemParser's definition). The model was trained by pipelines/train_semantics.py on the training
annotations only. Speed: lines/s of `Pipeline.parse_stream` on the HDFS-like stream with semantics
on and off, each in a fresh process pinned to one core, median of `--repeats` runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logai.evaluation.benchmark_logs import read_raw_lines  # noqa: E402
from logai.evaluation.pair_metrics import PairScore  # noqa: E402
from logai.evaluation.semantics_run import LOGHUB_NAME, semparser_scores  # noqa: E402
from logai.evaluation.semparser_data import GOLD_SYSTEMS, read_gold  # noqa: E402
from pipelines import hdfs_like  # noqa: E402
from pipelines.bench_parsing import median_of, worker  # noqa: E402
from pipelines.reporting import write_report  # noqa: E402


def output_file_scores(data: Path, system: str, workdir: Path, streaming: bool) -> dict[str, Any]:
    """SemParser's pair P/R/F1 read from what `logai parse --format <system> FILE` writes (each event's
    `pairs`), and how many concepts came from the knowledge base rather than the line itself."""
    name = LOGHUB_NAME.get(system, system)
    gold = {g.line_id: g.pairs for g in read_gold(data / "semparser" / "test" / "label" / f"{system}_gt.csv")}
    log = workdir / f"{name}.log"
    log.write_bytes(b"\n".join(read_raw_lines(data / "loghub_2k" / name / f"{name}_2k.log")) + b"\n")
    cmd = [str(Path(sys.executable).with_name("logai")), "parse", "--format", name, str(log)]
    out = subprocess.run(cmd + (["--streaming"] if streaming else []), check=True, capture_output=True).stdout
    score, origins = PairScore(), Counter()
    for row in out.splitlines():
        event = json.loads(row)
        origins.update(p.get("origin") for p in event["params"] if p.get("concept"))
        if event["line"] in gold:
            score.add([tuple(pair) for pair in event["pairs"] or []], gold[event["line"]])
    return {"precision": score.precision, "recall": score.recall, "f1": score.f1,
            "concepts_stated": origins["stated"], "concepts_from_kb": origins["kb"]}


def speed(n_lines: int, repeats: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        stream = hdfs_like.write(Path(tmp) / "hdfs_like.log", n_lines)
        entry: dict[str, Any] = {}
        for label, flag in (("semantics_off", "off"), ("semantics_on", "on")):
            runs = []
            for i in range(repeats):
                cmd = [sys.executable, __file__, "_worker", str(stream), flag]
                runs.append(json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout))
                print(f"  [speed] {label} run {i + 1}: {runs[-1]['lines_per_s']:,.0f} lines/s", flush=True)
            entry[label] = median_of(runs)
    entry["ratio_on_over_off"] = entry["semantics_on"]["lines_per_s"] / entry["semantics_off"]["lines_per_s"]
    return entry


def markdown(report: dict[str, Any]) -> str:
    out = ["# Semantics benchmark", ""]
    if "accuracy" in report:
        out += ["| system | precision | recall | F1 | gold pairs | lines/s (parse + semantics) |",
                "| --- | --- | --- | --- | --- | --- |"]
        for system, row in report["accuracy"]["systems"].items():
            out.append(f"| {system} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} "
                       f"| {row['gold_pairs']} | {row['lines_per_s']:,.0f} |")
        avg = report["accuracy"]["average"]
        out += [f"| **average** | {avg['precision']:.3f} | {avg['recall']:.3f} | **{avg['f1']:.3f}** | | |", ""]
    for label, title in (("output_file", "read from `logai parse FILE` output (final templates)"),
                         ("output_streaming", "read from `logai parse --streaming FILE` output")):
        if label in report:
            out += [f"Pairs {title}:", "",
                    "| system | precision | recall | F1 | concepts stated | concepts from the KB |",
                    "| --- | --- | --- | --- | --- | --- |"]
            for system, row in report[label]["systems"].items():
                out.append(f"| {system} | {row['precision']:.3f} | {row['recall']:.3f} | {row['f1']:.3f} "
                           f"| {row['concepts_stated']} | {row['concepts_from_kb']} |")
            avg = report[label]["average"]
            out += [f"| **average** | {avg['precision']:.3f} | {avg['recall']:.3f} | **{avg['f1']:.3f}** | | |", ""]
    if "speed" in report:
        s = report["speed"]
        out += ["| HDFS-like stream, one core | lines/s (median) |", "| --- | --- |",
                f"| parsing, semantics off | {s['semantics_off']['lines_per_s']:,.0f} |",
                f"| parsing, semantics on | {s['semantics_on']['lines_per_s']:,.0f} |",
                f"| ratio on/off | **{s['ratio_on_over_off']:.2f}** |", ""]
    return "\n".join(out)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        print(json.dumps(worker("logai", [(Path(sys.argv[2]), "HDFS")], None, semantics=sys.argv[3] == "on")))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "semantics")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args()
    report: dict[str, Any] = {"protocol": __doc__}
    if (args.data / "semparser").is_dir():
        systems = {s: semparser_scores(args.data, s) for s in GOLD_SYSTEMS}
        for s, row in systems.items():
            print(f"  {s:10s} P {row['precision']:.3f} R {row['recall']:.3f} F1 {row['f1']:.3f}", flush=True)
        average = {k: statistics.mean(r[k] for r in systems.values()) for k in ("precision", "recall", "f1")}
        report["accuracy"] = {"systems": systems, "average": average}
        with tempfile.TemporaryDirectory() as tmp:
            for label, streaming in (("output_file", False), ("output_streaming", True)):
                rows = {s: output_file_scores(args.data, s, Path(tmp), streaming) for s in GOLD_SYSTEMS}
                report[label] = {"systems": rows, "average": {
                    k: statistics.mean(r[k] for r in rows.values()) for k in ("precision", "recall", "f1")}}
                print(f"  {label}: F1 {report[label]['average']['f1']:.3f}", flush=True)
    else:
        print(f"SemParser data not found under {args.data}: accuracy skipped", file=sys.stderr)
    if not args.skip_speed:
        report["speed"] = speed(args.lines, args.repeats)
    write_report(args.out, report, markdown)


if __name__ == "__main__":
    main()
