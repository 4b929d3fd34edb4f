"""Start-up: whole processes, as a user runs them, wall time and peak memory (medians of --repeats).

    python pipelines/bench_startup.py --out reports/startup

Commands: `logai --help`, `logai formats`, `logai parse` of a 10-line file, `logai parse --help`, and `logai
serve --help`; beside them in the same run, the floor (`python -c pass`) and vanilla drain3 doing the 10-line
parse (`pipelines/drain3_baseline.py`). Peak memory is the child's maximum resident set (getrusage).
Target (issue 20): each logai command within 0.5 s wall and 100 MB.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipelines import hdfs_like  # noqa: E402
from pipelines.process_measure import run_measured  # noqa: E402
from pipelines.reporting import write_report  # noqa: E402

LOGAI = str(Path(sys.executable).with_name("logai"))
WALL_TARGET_S, RSS_TARGET_MB = 0.5, 100


def run_once(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and the process's own peak RSS (MB) of one run of `cmd` (`process_measure`)."""
    return run_measured(cmd)


def measure(cmd: list[str], repeats: int) -> dict[str, Any]:
    run_once(cmd)  # warm the page cache: every run after it reads the same files from memory
    runs = [run_once(cmd) for _ in range(repeats)]
    return {"command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd)),
            "wall_s": round(statistics.median(w for w, _ in runs), 3),
            "peak_rss_mb": round(statistics.median(m for _, m in runs), 1), "repeats": repeats}


def markdown(report: dict[str, Any]) -> str:
    lines = ["# Start-up", "", f"Machine: {report['machine']}. Whole processes, medians of {report['repeats']} runs "
             f"after one warm-up; target: logai commands within {WALL_TARGET_S} s and {RSS_TARGET_MB} MB.", "",
             "| command | wall s | peak RSS MB | within target |", "| --- | --- | --- | --- |"]
    for name, row in report["commands"].items():
        within = "" if name.startswith("baseline") else (
            "yes" if row["wall_s"] <= WALL_TARGET_S and row["peak_rss_mb"] <= RSS_TARGET_MB else "**no**")
        lines.append(f"| {name} (`{row['command']}`) | {row['wall_s']} | {row['peak_rss_mb']} | {within} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "startup")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ten = hdfs_like.write(Path(tmp) / "ten.log", 10)
        commands = {
            "baseline: python": [sys.executable, "-c", "pass"],
            "baseline: drain3, 10 lines": [sys.executable, str(ROOT / "pipelines" / "drain3_baseline.py"), str(ten),
                                           "--out", os.devnull],
            "logai --help": [LOGAI, "--help"],
            "logai formats": [LOGAI, "formats"],
            "logai parse, 10 lines": [LOGAI, "parse", "--no-progress", str(ten), "--out", os.devnull],
            "logai parse --help": [LOGAI, "parse", "--help"],
            "logai serve --help": [LOGAI, "serve", "--help"],
        }
        report: dict[str, Any] = {
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "repeats": args.repeats, "command": " ".join(sys.argv),
            "commands": {name: measure(cmd, args.repeats) for name, cmd in commands.items()}}
    report["max_rss_of_children_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    write_report(args.out, report, markdown)


if __name__ == "__main__":
    main()
