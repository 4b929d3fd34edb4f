"""Format detection benchmark: does logai read each common log format as that format?

For every generator in `pipelines/format_samples.py` (log4j, Logback, Spring Boot, Python logging, Go zap
and logrus, Rails, journalctl, journald JSON, journal export, Docker json-file, PostgreSQL, Redis, MySQL, syslog, nginx,
CRI) it writes `--files` sample files of 200 records with different seeds (and, for the formats whose records
span lines, `<name>+trace` files whose error records carry a Java stack trace, a Python traceback, a Go stack,
a Ruby backtrace or a continued SQL statement), and, when `--data` holds Loghub-2k, 200-line windows of each
Loghub system. Each file goes through what `logai parse` does: the format is detected from its first 200
lines, then the file is parsed as one stream with it. Scored from the events: the detected format against
the expected one (confusion matrix), the files in which the detected format left some line's header
unparsed (events flagged `no_header`), and the files whose records did not come out one event each.

    python pipelines/bench_formats.py --out reports/formats
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import random
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logai.config import SemanticsConfig, Settings  # noqa: E402
from logai.doors import journal  # noqa: E402
from logai.evaluation.benchmark_logs import LOGHUB_SYSTEMS  # noqa: E402
from logai.events import FLAG_NO_HEADER, Event, Record  # noqa: E402
from logai.pipeline import Pipeline  # noqa: E402
from pipelines.format_samples import ALSO_RIGHT, EXPECTED, GENERATORS, MULTILINE, records  # noqa: E402


def loghub_windows(data: Path, files: int, lines: int = 200) -> list[tuple[str, str, list[str]]]:
    out = []
    for system in LOGHUB_SYSTEMS:
        path = data / "loghub_2k" / system / f"{system}_2k.log"
        if not path.exists():
            continue
        text = path.read_text(encoding="utf-8", errors="backslashreplace").splitlines()
        rng = random.Random(system)
        for _ in range(files):
            start = rng.randint(0, max(0, len(text) - lines))
            out.append((f"loghub:{system}", system, text[start : start + lines]))
    return out


def run(files: int, data: Path | None) -> dict:
    names = [*GENERATORS, *MULTILINE]
    cases = [(name, EXPECTED[name], records(name, seed)) for name in names for seed in range(files)]
    if data is not None and (data / "loghub_2k").is_dir():
        cases += loghub_windows(data, max(1, files // 4))
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    unparsed: list[dict] = []
    split_wrong: list[dict] = []
    for index, (name, _, texts) in enumerate(cases):
        pipeline = Pipeline(Settings(semantics=SemanticsConfig(enabled=False)))  # a fresh process's view
        data_bytes = "\n".join(texts).encode() + b"\n"
        detected = pipeline.detect_format(data_bytes.split(b"\n")[:200])
        confusion[name][detected] += 1
        if pipeline.registry.get(detected).kind == "journal-export":  # read entry by entry, as logai parse does
            events = journal_events(pipeline, data_bytes, f"f{index}", detected)
            whole = len(events) == len(texts)
        else:
            events = list(pipeline.parse_stream(io.BytesIO(data_bytes), source=f"f{index}", format_name=detected))
            whole = [e.raw for e in events] == texts
        missing = [e for e in events if FLAG_NO_HEADER in e.flags]
        if missing:
            unparsed.append({"sample": name, "detected": detected, "lines_without_header": len(missing),
                             "example": missing[0].raw})
        if not whole:  # each record one event, each event one record
            split_wrong.append({"sample": name, "detected": detected, "records": len(texts), "events": len(events)})
    rows = {}
    for name, counts in confusion.items():
        expected = next(e for n, e, _ in cases if n == name)
        total = sum(counts.values())
        right = sum(n for fmt, n in counts.items() if fmt == expected or fmt in ALSO_RIGHT.get(name, ()))
        rows[name] = {"expected": expected, "also_right": sorted(ALSO_RIGHT.get(name, ())), "files": total,
                      "right": right, "accuracy": right / total, "detected": dict(counts)}
    right = sum(r["right"] for r in rows.values())
    total = sum(r["files"] for r in rows.values())
    return {"machine": f"{platform.machine()}, Python {platform.python_version()}", "files_per_format": files,
            "lines_per_file": 200, "files": total, "right": right, "accuracy": right / total,
            "files_with_unparsed_header": len(unparsed), "unparsed": unparsed[:50],
            "multiline_files": sum(name in MULTILINE for name, _, _ in cases),
            "files_with_records_split_wrong": len(split_wrong), "split_wrong": split_wrong[:50], "formats": rows}


def journal_events(pipeline: Pipeline, data: bytes, source: str, format_name: str) -> list[Event]:
    """The events of a Journal Export Format file, read entry by entry."""
    records = [item for _, item in journal.read_records(io.BytesIO(data), source, ()) if isinstance(item, Record)]
    return pipeline.run_records(records, format_name=format_name).events


def markdown(report: dict) -> str:
    out = ["# Format detection benchmark", "",
           f"{report['files']} sample files of {report['lines_per_file']} records ({report['files_per_format']} per "
           f"generated format, Loghub windows as well when the data is there); {report['machine']}.", "",
           f"- files detected as the expected format: **{report['right']} of {report['files']} "
           f"({report['accuracy']:.1%})**",
           "- files whose detected format left some line's header unparsed: "
           f"**{report['files_with_unparsed_header']}**",
           f"- files whose records did not come out one event each (read as `logai parse` reads them; "
           f"{report['multiline_files']} files have stack traces or tracebacks): "
           f"**{report['files_with_records_split_wrong']}**",
           "", "## Per sample (the confusion matrix, row by row)", "",
           "| sample | expected | right | detected as |", "| --- | --- | --- | --- |"]
    for name, row in report["formats"].items():
        detected = ", ".join(f"{fmt} {n}" for fmt, n in sorted(row["detected"].items(), key=lambda kv: -kv[1]))
        expected = " or ".join([row["expected"], *row["also_right"]])
        out.append(f"| {name} | {expected} | {row['right']}/{row['files']} | {detected} |")
    if report["unparsed"]:
        out += ["", "## Files with unparsed headers", "", "| sample | detected | lines | example |",
                "| --- | --- | --- | --- |"]
        out += [f"| {u['sample']} | {u['detected']} | {u['lines_without_header']} | `{u['example'][:80]}` |"
                for u in report["unparsed"]]
    if report["split_wrong"]:
        out += ["", "## Files whose records were joined or split wrongly", "",
                "| sample | detected | records | events |", "| --- | --- | --- | --- |"]
        out += [f"| {u['sample']} | {u['detected']} | {u['records']} | {u['events']} |" for u in report["split_wrong"]]
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--files", type=int, default=20, help="sample files per generated format")
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "formats")
    args = ap.parse_args()
    report = run(args.files, args.data)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report, indent=2))
    (args.out / "report.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
