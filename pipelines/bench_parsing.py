"""Parsing benchmark: accuracy on Loghub-2k and speed/memory on a 1M-line HDFS-like stream, each against
vanilla drain3 (logparser's Drain settings) in the same run.

    python pipelines/bench_parsing.py --data ../shared/data --out reports/parsing

Accuracy: GA, PA, FGA, FTA (Loghub-2.0 definitions, `logai.evaluation.parsing_metrics`) per system on
(a) the Loghub-2.0 annotation of the 2k samples and (b) the ICSE'22 corrected Loghub-2k templates. Each
line is scored with the template its cluster has at the end of the pass (the usual protocol for
online parsers; for logai, a line's template id followed through merge lineage). The "logai output file"
columns score what `logai parse --format <system> FILE` writes (defaults, semantics on): what a user reads.

Speed: every timing runs in a fresh process pinned to one core; medians over `--repeats` runs.
- in-process "header + template": lines/s of `Pipeline.parse_stream` vs drain3 with header regex
  and masking, events built but not written;
- end to end: `logai parse --no-semantics --out /dev/null` vs `pipelines/drain3_baseline.py` (same
  JSON-lines job), with each process's own peak RSS (GNU time); and the default `logai parse` with semantics on
  against the same baseline;
- the 14 Loghub 2k logs interleaved line by line in one file (28,000 lines): `logai parse` as a user runs it
  (format detected, semantics on, and off) vs `drain3_baseline.py --generic` (no header), whole processes.
Semantics are off in the logai timings above (drain3 does no such work), except in that last row.
Writes `report.json` and `report.md` in `--out`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from logai.config import ParsingConfig, SemanticsConfig, Settings  # noqa: E402
from logai.evaluation.benchmark_logs import LOGHUB_SYSTEMS, load_labelled  # noqa: E402
from logai.evaluation.parsing_metrics import score_parsing  # noqa: E402
from logai.evaluation.parsing_run import final_templates, loghub_templates  # noqa: E402
from logai.parsing.formats import DrainOverride, FormatRegistry, MaskingOverride  # noqa: E402
from logai.parsing.lines import decode_line  # noqa: E402
from logai.pipeline import Pipeline  # noqa: E402
from pipelines import hdfs_like  # noqa: E402
from pipelines.drain3_baseline import HDFS_SETTINGS, VanillaDrain  # noqa: E402
from pipelines.local_services import baseline_command  # noqa: E402
from pipelines.parse_stages import STAGES  # noqa: E402
from pipelines.process_measure import run_measured  # noqa: E402
from pipelines.reporting import write_report  # noqa: E402

HELD_BACK = {"BGL", "Thunderbird"}  # not in ../shared (kept for the final evaluation)
METRICS = ("GA", "PA", "FGA", "FTA")
IMPLS = ("logai", "logai output file", "logai untuned", "drain3")


# -- accuracy ------------------------------------------------------------------------------------------
def drain3_templates(system: str, lines: list[bytes], settings: dict[str, Any]) -> list[str]:
    spec = settings["systems"][system]
    drain = VanillaDrain(spec["log_format"], spec["regex"], spec["drain"]["st"], spec["drain"]["depth"])
    cluster_ids = [drain.add(decode_line(raw)[0])[0] for raw in lines]
    final = {c.cluster_id: c.get_template() for c in drain.miner.drain.clusters}
    return [final[c] for c in cluster_ids]


def output_file_templates(system: str, lines: list[bytes], workdir: Path) -> list[str]:
    """The templates `logai parse --format <system> FILE` writes: what a user reads, semantics on."""
    log = workdir / f"{system}.log"
    log.write_bytes(b"\n".join(lines) + b"\n")
    out = subprocess.run([str(Path(sys.executable).with_name("logai")), "parse", "--format", system, str(log)],
                         check=True, capture_output=True).stdout
    return [json.loads(row)["template"] or "" for row in out.splitlines()]


def untuned_registry() -> FormatRegistry:
    """The shipped formats with every system-specific setting removed (extra masks, Drain similarity and
    depth): only each system's header layout is left, which says where the message is, not how to mine it."""
    registry = FormatRegistry.load([])
    for fmt in registry:
        fmt.masking = MaskingOverride()
        fmt.drain = DrainOverride()
    return registry


LOSO_GRID = [(sim_th, depth) for sim_th in (0.4, 0.5, 0.6, 0.7) for depth in (4, 5, 6)]


def leave_one_system_out(data: Path, annotation: str) -> dict[str, Any]:
    """Leave one system out: nothing tuned for a system (`untuned_registry`), and the shared Drain settings
    (similarity, depth) chosen from `LOSO_GRID` by the average GA of the *other* systems, then scored on
    the held-out one. The shipped masks are shared by every system and stay on."""
    systems = [s for s in LOGHUB_SYSTEMS if s not in HELD_BACK and (annotation != "loghub2"
                                                                     or (data / "loghub2_2k" / s).is_dir())]
    registry = untuned_registry()
    logs = {system: load_labelled(data, system, annotation) for system in sorted(systems)}
    scores: dict[tuple[float, int], dict[str, Any]] = {}
    for sim_th, depth in LOSO_GRID:
        settings = Settings(parsing=ParsingConfig(sim_th=sim_th, depth=depth))
        scores[(sim_th, depth)] = {
            system: score_parsing(log.templates, final_templates(
                Pipeline(settings, registry=registry), [decode_line(raw)[0] for raw in log.lines], system, system))
            for system, log in logs.items()}
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for system in logs:
        chosen = max(LOSO_GRID, key=lambda key: statistics.mean(
            row.GA for other, row in scores[key].items() if other != system))
        held_out = scores[chosen][system]
        rows[system] = {"logai untuned": {**held_out.as_dict(), "sim_th": chosen[0], "depth": chosen[1]}}
        print(f"  [{annotation} LOSO] {system:10s} GA {held_out.GA:.3f} PA {held_out.PA:.3f} "
              f"(sim_th {chosen[0]}, depth {chosen[1]}, chosen on the others)", flush=True)
    average = {"logai untuned": {m: statistics.mean(r["logai untuned"][m] for r in rows.values()) for m in METRICS}}
    return {"systems": rows, "average": average, "n_systems": len(rows)}


def accuracy(data: Path, annotation: str) -> dict[str, Any]:
    settings = json.loads((data / "loghub_2k" / "settings.json").read_text())
    systems = [s for s in LOGHUB_SYSTEMS if s not in HELD_BACK]
    if annotation == "loghub2":
        systems = [s for s in systems if (data / "loghub2_2k" / s).is_dir()]
    rows: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for system in sorted(systems):
            log = load_labelled(data, system, annotation)
            ours = score_parsing(log.templates, loghub_templates(system, log.lines))
            written = score_parsing(log.templates, output_file_templates(system, log.lines, Path(tmp)))
            base = score_parsing(log.templates, drain3_templates(system, log.lines, settings))
            rows[system] = {"logai": ours.as_dict(), "logai output file": written.as_dict(), "drain3": base.as_dict()}
            print(f"  [{annotation}] {system:10s} logai GA {ours.GA:.3f} PA {ours.PA:.3f} | output file GA "
                  f"{written.GA:.3f} PA {written.PA:.3f} | drain3 GA {base.GA:.3f} PA {base.PA:.3f}", flush=True)
    average = {impl: {m: statistics.mean(r[impl][m] for r in rows.values()) for m in METRICS}
               for impl in ("logai", "logai output file", "drain3")}
    return {"systems": rows, "average": average, "n_systems": len(rows)}


# -- speed (worker side) -------------------------------------------------------------------------------
def _pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def worker(impl: str, corpus: list[tuple[Path, str]], settings_path: Path | None,
           semantics: bool = False) -> dict[str, Any]:
    """Parse every (file, format) of `corpus` in this process; report lines/s and peak RSS.

    logai runs header + template only unless `semantics` (drain3 does no such work)."""
    _pin_one_core()
    settings = json.loads(settings_path.read_text()) if settings_path else None
    lines = 0
    start = time.perf_counter()
    if impl == "logai":
        pipeline = Pipeline(Settings(semantics=SemanticsConfig(enabled=semantics)))
        for path, fmt in corpus:
            with path.open("rb") as handle:
                for _event in pipeline.parse_stream(handle, source=path.name, format_name=fmt):
                    lines += 1
    else:
        for path, fmt in corpus:
            if fmt == "HDFS" and settings is None:
                spec = HDFS_SETTINGS
                drain = VanillaDrain(spec["log_format"], spec["regex"], spec["st"], spec["depth"])
            else:
                spec = settings["systems"][fmt]
                drain = VanillaDrain(spec["log_format"], spec["regex"], spec["drain"]["st"],
                                     spec["drain"]["depth"])
            with path.open("rb") as handle:
                for raw in handle:
                    drain.add(raw.rstrip(b"\r\n").decode("utf-8", "backslashreplace"))
                    lines += 1
    seconds = time.perf_counter() - start
    # no peak memory here: a worker forked from this benchmark would count the benchmark's own (the whole
    # process rows below measure it, under GNU time)
    return {"lines": lines, "seconds": seconds, "lines_per_s": lines / seconds, "peak_rss_mb": None}


# -- speed (driver side) -------------------------------------------------------------------------------
def run_worker(impl: str, corpus: list[tuple[Path, str]], settings_path: Path | None) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "_worker", "--impl", impl]
    cmd += ["--corpus", json.dumps([[str(p), f] for p, f in corpus])]
    if settings_path:
        cmd += ["--settings", str(settings_path)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_cli(cmd: list[str], lines: int) -> dict[str, Any]:
    """Run a command pinned to one core; wall time and that process's own peak RSS (`process_measure`)."""
    seconds, peak_mb = run_measured(cmd, one_core=True)
    return {"lines": lines, "seconds": seconds, "lines_per_s": lines / seconds, "peak_rss_mb": peak_mb}


def median_clis(commands: dict[str, list[str]], lines: int, repeats: int) -> dict[str, dict[str, Any]]:
    """`repeats` whole-process runs of each command, taken in turns (a, b, c, a, b, c, ...) so that a busy
    spell of the machine falls on every command alike; each run printed as it ends, and each one's median."""
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label in commands}
    for i in range(repeats):
        for label, cmd in commands.items():
            runs[label].append(run_cli(cmd, lines))
            print(f"  [speed] {label} run {i + 1}: {runs[label][-1]['lines_per_s']:,.0f} lines/s, "
                  f"{runs[label][-1]['peak_rss_mb']:.0f} MB", flush=True)
    return {label: median_of(done) for label, done in runs.items()}


def stage_profile(path: Path, format_name: str | None, checkout: Path | None = None) -> dict[str, Any]:
    """Microseconds per line by stage (`pipelines/parse_stages.py`), of this checkout or of `checkout`."""
    cmd = [sys.executable, str(ROOT / "pipelines" / "parse_stages.py"), str(path)]
    cmd += ["--format", format_name] if format_name else []
    env = {**os.environ, "PYTHONPATH": str(checkout)} if checkout else None
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout)


def stage_profiles(path: Path, format_name: str | None, baseline: Path | None, repeats: int) -> dict[str, Any]:
    """Each code's stage profile, runs taken in turns; per stage, the median over the runs."""
    codes: dict[str, Path | None] = {"this checkout": None, **({"baseline": baseline} if baseline else {})}
    runs: dict[str, list[dict[str, Any]]] = {code: [] for code in codes}
    for _ in range(repeats):
        for code, checkout in codes.items():
            runs[code].append(stage_profile(path, format_name, checkout))
    return {code: {key: statistics.median(run[key] for run in done) if isinstance(done[0][key], float)
                   else done[0][key] for key in done[0]} for code, done in runs.items()}


def median_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "lines": runs[0]["lines"],
        "lines_per_s": statistics.median(r["lines_per_s"] for r in runs),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs) if runs[0]["peak_rss_mb"] is not None else None,
        "runs_lines_per_s": [round(r["lines_per_s"]) for r in runs],
    }


def speed(data: Path | None, n_lines: int, repeats: int, workdir: Path, baseline: Path | None = None
          ) -> dict[str, Any]:
    stream = hdfs_like.write(workdir / "hdfs_like.log", n_lines)
    results: dict[str, Any] = {}
    jobs: dict[str, tuple[list[tuple[Path, str]], Path | None]] = {
        "hdfs_like_1M": ([(stream, "HDFS")], None),
    }
    if data is not None:
        corpus = [(data / "loghub_2k" / s / f"{s}_2k.log", s) for s in LOGHUB_SYSTEMS if s not in HELD_BACK]
        jobs["loghub_2k_concat"] = (corpus, data / "loghub_2k" / "settings.json")
    for name, (corpus, settings_path) in jobs.items():
        entry: dict[str, Any] = {}
        for impl in ("logai", "drain3"):
            runs = []
            for i in range(repeats):
                runs.append(run_worker(impl, corpus, settings_path))
                print(f"  [speed] {name} {impl} run {i + 1}: {runs[-1]['lines_per_s']:,.0f} lines/s", flush=True)
            entry[impl] = median_of(runs)
        entry["ratio_logai_over_drain3"] = entry["logai"]["lines_per_s"] / entry["drain3"]["lines_per_s"]
        results[f"{name}_header_plus_template"] = entry

    logai_bin = str(Path(sys.executable).with_name("logai"))
    parse_args = ["parse", "--format", "HDFS", "--no-progress", str(stream), "--out", os.devnull]
    cli = {
        "logai": [logai_bin, *parse_args[:3], "--no-semantics", *parse_args[3:]],
        "logai with semantics": [logai_bin, *parse_args],
        "drain3": [sys.executable, str(ROOT / "pipelines" / "drain3_baseline.py"), str(stream),
                   "--out", os.devnull],
    }
    if baseline is not None:
        cli["logai baseline with semantics"] = baseline_command(baseline, parse_args)
    timed = median_clis(cli, n_lines, repeats)
    results["hdfs_like_1M_cli_end_to_end"] = {
        "logai": timed["logai"], "drain3": timed["drain3"],
        "ratio_logai_over_drain3": timed["logai"]["lines_per_s"] / timed["drain3"]["lines_per_s"]}
    # the default `logai parse`, with semantics (types, concepts) on, against the same baseline
    results["hdfs_like_1M_cli_with_semantics"] = _with_baseline(
        timed["logai with semantics"], timed["drain3"], timed.get("logai baseline with semantics"))
    if data is not None:
        results["loghub_14_interleaved_cli"] = interleaved_cli(data, repeats, workdir, logai_bin, baseline)
    profiles: dict[str, tuple[Path, str | None]] = {"hdfs_like": (stream, "HDFS")}
    if data is not None:
        profiles["loghub_14_interleaved"] = (workdir / "loghub_14_interleaved.log", None)
    results["stages_us_per_line"] = {name: stage_profiles(path, fmt, baseline, repeats)
                                     for name, (path, fmt) in profiles.items()}
    return results


def _with_baseline(logai: dict[str, Any], drain3: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
    entry = {"logai": logai, "drain3": drain3, "ratio_logai_over_drain3": logai["lines_per_s"] / drain3["lines_per_s"]}
    if before is not None:
        entry["logai_baseline"] = before
        entry["ratio_logai_baseline_over_drain3"] = before["lines_per_s"] / drain3["lines_per_s"]
    return entry


def interleaved_cli(data: Path, repeats: int, workdir: Path, logai_bin: str, baseline: Path | None = None
                    ) -> dict[str, Any]:
    """One file of the 14 Loghub 2k logs interleaved line by line (28,000 lines, 14 layouts): `logai parse` as a
    user runs it (the format detected from the file, semantics on, and off) against drain3 with no header
    (`drain3_baseline.py --generic`), whole processes."""
    logs = [(data / "loghub_2k" / s / f"{s}_2k.log").read_bytes().splitlines()
            for s in LOGHUB_SYSTEMS if s not in HELD_BACK]
    mixed = [line for row in zip(*logs, strict=False) for line in row]
    path = workdir / "loghub_14_interleaved.log"
    path.write_bytes(b"\n".join(mixed) + b"\n")
    parse_args = ["parse", "--no-progress", str(path), "--out", os.devnull]
    cmds = {
        "logai": [logai_bin, *parse_args],
        "logai_no_semantics": [logai_bin, *parse_args[:2], "--no-semantics", *parse_args[2:]],
        "drain3": [sys.executable, str(ROOT / "pipelines" / "drain3_baseline.py"), "--generic", str(path),
                   "--out", os.devnull],
    }
    if baseline is not None:
        cmds["logai_baseline"] = baseline_command(baseline, parse_args)
    timed = median_clis(cmds, len(mixed), repeats)
    entry = _with_baseline(timed["logai"], timed["drain3"], timed.get("logai_baseline"))
    entry["logai_no_semantics"] = timed["logai_no_semantics"]
    entry["ratio_logai_no_semantics_over_drain3"] = (timed["logai_no_semantics"]["lines_per_s"]
                                                    / timed["drain3"]["lines_per_s"])
    return entry


# -- report --------------------------------------------------------------------------------------------
def _mb(run: dict[str, Any]) -> str:
    return "-" if run.get("peak_rss_mb") is None else f"{run['peak_rss_mb']:.0f}"


def markdown(report: dict[str, Any]) -> str:
    out = ["# Parsing benchmark", "", f"Machine: {report['machine']}", ""]
    for name, acc in report.get("accuracy", {}).items():
        impls = [impl for impl in IMPLS if impl in acc["average"]]
        columns = [f"{impl} {m}" for impl in impls for m in METRICS]
        out += [f"## Accuracy: {name} ({acc['n_systems']} systems)", "",
                "| system | " + " | ".join(columns) + " |", "| --- " * (len(columns) + 1) + "|"]
        for system, row in acc["systems"].items():
            cells = [f"{row[i][m]:.3f}" for i in impls for m in METRICS]
            out.append(f"| {system} | " + " | ".join(cells) + " |")
        avg = acc["average"]
        out.append("| **average** | " + " | ".join(f"**{avg[i][m]:.3f}**" for i in impls
                                                   for m in METRICS) + " |")
        out.append("")
    if "speed" in report:
        speed = report["speed"]
        out += ["## Speed (one core, median of runs)", "",
                f"Command: `{report.get('command', 'python pipelines/bench_parsing.py')}`", "",
                "| job | logai lines/s | drain3 lines/s | ratio | logai peak RSS MB | drain3 peak RSS MB |",
                "| --- | --- | --- | --- | --- | --- |"]
        for name, entry in speed.items():
            if "drain3" not in entry:
                continue
            out.append(f"| {name} | {entry['logai']['lines_per_s']:,.0f} | {entry['drain3']['lines_per_s']:,.0f} "
                       f"| {entry['ratio_logai_over_drain3']:.2f}x | {_mb(entry['logai'])} | {_mb(entry['drain3'])} |")
            for key, label in (("logai_no_semantics", "semantics off"),
                               ("logai_baseline", f"baseline {report.get('baseline', '')}".strip())):
                if key in entry:
                    row = entry[key]
                    out.append(f"| {name}, {label} | {row['lines_per_s']:,.0f} | "
                               f"{entry['drain3']['lines_per_s']:,.0f} | "
                               f"{entry[f'ratio_{key}_over_drain3']:.2f}x | {_mb(row)} | {_mb(entry['drain3'])} |")
        out.append("")
        if "stages_us_per_line" in speed:
            out += ["## Where a line's time goes (`pipelines/parse_stages.py`, microseconds per line)", "",
                    "| input | code | " + " | ".join(STAGES) + " | total |",
                    "| --- | --- | " + "--- | " * len(STAGES) + "--- |"]
            for name, profiles in speed["stages_us_per_line"].items():
                for code, row in profiles.items():
                    out.append(f"| {name} | {code} | " + " | ".join(f"{row[s]:.1f}" for s in STAGES)
                               + f" | {row['total']:.1f} |")
            out.append("")
    return "\n".join(out)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_worker":
        ap = argparse.ArgumentParser()
        ap.add_argument("_worker")
        ap.add_argument("--impl", choices=["logai", "drain3"], required=True)
        ap.add_argument("--corpus", required=True)
        ap.add_argument("--settings", type=Path, default=None)
        args = ap.parse_args()
        corpus = [(Path(p), f) for p, f in json.loads(args.corpus)]
        print(json.dumps(worker(args.impl, corpus, args.settings)))
        return

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "parsing")
    ap.add_argument("--lines", type=int, default=1_000_000, help="lines of the HDFS-like stream")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--baseline-checkout", type=Path, default=None,
                    help="an older checkout of logai (`git worktree add`), timed in the same run")
    args = ap.parse_args()

    data = args.data if (args.data / "loghub_2k").is_dir() else None
    if data is None:
        print(f"benchmark data not found under {args.data}: accuracy is skipped", file=sys.stderr)
    report: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                   f"Python {platform.python_version()}",
        "protocol": __doc__,
        "command": " ".join(["python pipelines/bench_parsing.py", *sys.argv[1:]]),
    }
    baseline = args.baseline_checkout.resolve() if args.baseline_checkout else None
    if baseline is not None:
        report["baseline"] = subprocess.run(["git", "-C", str(baseline), "rev-parse", "--short", "HEAD"],
                                            capture_output=True, text=True).stdout.strip() or str(baseline)
    if data is not None and not args.skip_accuracy:
        report["accuracy"] = {
            "loghub2 (Loghub-2.0 annotation)": accuracy(data, "loghub2"),
            "corrected (ICSE'22 Loghub-2k)": accuracy(data, "corrected"),
            "loghub2, leave one system out (nothing system-specific)": leave_one_system_out(data, "loghub2"),
            "corrected, leave one system out (nothing system-specific)": leave_one_system_out(data, "corrected"),
        }
    if not args.skip_speed:
        with tempfile.TemporaryDirectory() as tmp:
            report["speed"] = speed(data, args.lines, args.repeats, Path(tmp), baseline)
    write_report(args.out, report, markdown)


if __name__ == "__main__":
    main()


