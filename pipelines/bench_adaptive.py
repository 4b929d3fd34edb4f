"""AdaptiveLog benchmark: small model only, LLM only, LLM with random or retrieved cases, and the router.

    python pipelines/bench_adaptive.py --out reports/adaptive [--router models/router]

Protocol. Each task's LogEval file (English, zero-shot) is split by distinct log into train/dev/test (60/20/20,
stratified by label, seed 0) exactly as `pipelines/train_slm.py` splits it; the router (small models,
thresholds, case library) is trained there on train + dev, or loaded with `--router`. Only test logs are
scored, and none of them is in training or in the case library (checked). The LLM (packaged SmolLM2-135M
in-process, greedy, JSON-constrained `{"label","reason"}`) answers each distinct test log once per condition;
answers are checkpointed in `OUT/llm_answers.jsonl` so a rerun resumes. Item-level figures count every
LogEval item (a log asked under many prompts counts as often as it is asked).

Systems: `slm` (MiniLM alone), `llm_zero_shot`, `llm_random_cases` (k=5 random library cases),
`llm_retrieved_cases` (k=5 most similar), and `adaptive` (the router at its dev-calibrated threshold, run
through `AdaptiveRouter.analyze`). The curve moves the threshold across the test uncertainties. The
small-model path's speed is measured on HDFS-like lines: cold (every line through MC dropout) and warm (the
verdict cache primed by a first pass).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from logai.evaluation.logeval import find_logeval_file, labelled_logs, load_logeval, split_by_input  # noqa: E402
from logai.pipeline import Pipeline  # noqa: E402
from logai.route.training import load_router, parse_logs  # noqa: E402
from logai.scores import accuracy, macro_f1  # noqa: E402
from logai.slm.inputs import event_text  # noqa: E402
from pipelines.reporting import write_report  # noqa: E402

DATA = Path(os.environ.get("LOGAI_BENCH_DATA", ROOT.parent / "shared" / "data"))
MODES = {"llm_zero_shot": "none", "llm_random_cases": "random", "llm_retrieved_cases": "retrieved"}


def expand(logs: list[Any], predicted: list[str]) -> tuple[list[str], list[str]]:
    """Item-level gold and predictions: each distinct log counted as often as items ask about it."""
    gold, pred = [], []
    for entry, label in zip(logs, predicted, strict=True):
        n = int(entry.weight)
        gold += [entry.label] * n
        pred += [label] * n
    return gold, pred


def scores(logs: list[Any], predicted: list[str]) -> dict[str, float]:
    """Accuracy and macro-F1 over items (labels seen in gold or predictions), and accuracy over logs."""
    gold, pred = expand(logs, predicted)
    return {"accuracy": accuracy(gold, pred), "macro_f1": macro_f1(gold, pred),
            "distinct_accuracy": accuracy([x.label for x in logs], predicted)}


class AnswerLog:
    """LLM answers per (task, mode, log), appended to a JSON-lines file so an interrupted run resumes."""

    def __init__(self, path: Path):
        self.path = path
        self.answers: dict[tuple[str, str, str], dict[str, Any]] = {}
        if path.is_file():
            for line in path.read_text().splitlines():
                if line.strip():
                    row = json.loads(line)
                    self.answers[(row["task"], row["mode"], row["log"])] = row

    def get(self, task: str, mode: str, log: str) -> dict[str, Any] | None:
        return self.answers.get((task, mode, log))

    def put(self, row: dict[str, Any]) -> None:
        self.answers[(row["task"], row["mode"], row["log"])] = row
        with open(self.path, "a") as handle:
            handle.write(json.dumps(row) + "\n")


def llm_answers(router, task: str, logs: list[Any], events: list[Any], mode: str, store: AnswerLog,
                labels: list[str]) -> list[dict[str, Any]]:
    from tqdm import tqdm

    out = []
    for entry, event in tqdm(list(zip(logs, events, strict=True)), desc=f"{task} {mode}", leave=False):
        row = store.get(task, mode, entry.log)
        if row is None:
            started = time.perf_counter()
            try:
                answer = router.ask_llm(event, task, entry.choices or labels, mode=mode)
                row = {"label": answer.label, "reason": answer.reason, "tokens": answer.tokens}
            except Exception as exc:  # an answer off-contract counts as wrong, and is reported
                row = {"label": "", "reason": "", "tokens": 0, "error": str(exc)[:200]}
            row.update(task=task, mode=mode, log=entry.log, seconds=time.perf_counter() - started)
            store.put(row)
        out.append(row)
    return out


def compare_on(test: list[Any], chosen: np.ndarray, slm: list[str], answers: dict[str, list[str]]
               ) -> dict[str, Any]:
    """Every system's scores on the chosen subset of logs."""
    if not chosen.any():
        return {}
    subset = [x for x, c in zip(test, chosen, strict=True) if c]
    out: dict[str, Any] = {"logs": len(subset), "items": int(sum(x.weight for x in subset))}
    for name in ("slm", "llm_zero_shot", "llm_random_cases", "llm_retrieved_cases"):
        predicted = slm if name == "slm" else answers[name]
        out[name] = scores(subset, [p for p, c in zip(predicted, chosen, strict=True) if c])
    return out


def bench_task(router, task: str, out: Path, store: AnswerLog, seed: int) -> dict[str, Any]:
    items = load_logeval(find_logeval_file(DATA / "logeval", task, "en", "zero"))
    split = split_by_input(items, seed=seed)
    test = labelled_logs(split.test)
    library_logs = {case.log for case in router.library.cases}
    leaked = [x.log for x in test if x.log in library_logs]
    if leaked:
        raise SystemExit(f"{len(leaked)} test logs are in the case library: the router was not trained on "
                         "this split")
    model = router.models[task]
    labels = sorted(set(model.labels_) | {x.label for x in test})
    pipeline = Pipeline()
    events = parse_logs([x.log for x in test], pipeline, f"bench-{task}")
    texts = [event_text(e) for e in events]
    allowed = [x.choices for x in test]
    started = time.perf_counter()
    mc = model.predict_mc(texts, allowed=allowed)
    slm_seconds = (time.perf_counter() - started) / len(texts)
    uncertainty = mc.uncertainty(router.statistic)
    systems: dict[str, dict[str, Any]] = {}
    systems["slm"] = {**scores(test, mc.labels), "llm_share": 0.0, "seconds_per_item": slm_seconds,
                      "llm_tokens_per_item": 0.0}
    answers = {}
    n_items = sum(x.weight for x in test)
    for name, mode in MODES.items():
        rows = llm_answers(router, task, test, events, mode, store, labels)
        answers[name] = [r["label"] for r in rows]
        weights = [x.weight for x in test]
        systems[name] = {**scores(test, answers[name]), "llm_share": 1.0,
                         "seconds_per_item": float(np.mean([r["seconds"] for r in rows])),
                         "llm_tokens_per_item": float(np.average([r["tokens"] for r in rows], weights=weights)),
                         "off_contract": sum(1 for r in rows if r.get("error"))}
    # the router itself, end to end (its LLM calls hit the backend again: cost measured for real)
    router.cache.invalidate()
    started = time.perf_counter()
    verdicts = router.analyze(events, task, choices=allowed)
    routed = np.array([v.path != "slm" for v in verdicts])
    threshold = router.thresholds[task]
    systems["adaptive"] = {**scores(test, [v.label for v in verdicts]),
                           "llm_share": float(sum(x.weight for x, r in zip(test, routed, strict=True) if r)
                                              / n_items),
                           "distinct_llm_share": float(routed.mean()),
                           "seconds_per_item": (time.perf_counter() - started) / len(test),
                           "llm_tokens_per_item": float(sum(v.llm_tokens for v in verdicts)) / n_items,
                           "fallbacks": sum(v.path == "slm_fallback" for v in verdicts), "threshold": threshold}
    # on the routed logs, and on the 30% least sure: retrieved vs random cases
    on_routed = compare_on(test, routed, mc.labels, answers)
    least_sure = compare_on(test, uncertainty >= np.quantile(uncertainty, 0.7), mc.labels, answers)
    # the curve: macro-F1 against LLM share as the threshold moves (LLM answers with retrieved cases)
    curve = []
    for t in sorted(set(np.quantile(uncertainty, np.linspace(0, 1, 41)).tolist()) | {float("inf"), -1.0}):
        use_llm = uncertainty > t
        predicted = [a if u else s for s, a, u in zip(mc.labels, answers["llm_retrieved_cases"], use_llm,
                                                      strict=True)]
        share = float(sum(x.weight for x, u in zip(test, use_llm, strict=True) if u) / n_items)
        curve.append({"threshold": t if np.isfinite(t) else None, "llm_share": share,
                      **scores(test, predicted)})
    return {"test_logs": len(test), "test_items": int(n_items), "labels": labels, "systems": systems,
            "on_routed": on_routed, "least_sure_30": least_sure, "curve": curve,
            "slm_cold_events_per_s": 1.0 / slm_seconds}


def bench_speed(router, lines: int) -> dict[str, Any]:
    from pipelines.hdfs_like import generate

    pipeline = Pipeline()
    raw = list(generate(lines, seed=1))
    events = [pipeline.parse_text(line, source="hdfs-like", format_name="HDFS", line=i + 1)
              for i, line in enumerate(raw)]
    backend, router.backend = router.backend, None  # the small-model path only
    router.cache.invalidate()
    started = time.perf_counter()
    for start in range(0, len(events), 512):
        router.analyze(events[start : start + 512], "anomaly")
    cold = time.perf_counter() - started
    distinct = len(router.cache)
    started = time.perf_counter()
    for start in range(0, len(events), 512):
        router.analyze(events[start : start + 512], "anomaly")
    warm = time.perf_counter() - started
    router.backend = backend
    return {"lines": lines, "distinct_inputs": distinct, "first_pass_events_per_s": lines / cold,
            "warm_cache_events_per_s": lines / warm}


def plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = report["tasks"]
    fig, axes = plt.subplots(1, len(tasks), figsize=(6 * len(tasks), 4.2), squeeze=False)
    for ax, (task, result) in zip(axes[0], tasks.items(), strict=True):
        curve = sorted(result["curve"], key=lambda row: row["llm_share"])
        ax.plot([r["llm_share"] for r in curve], [r["macro_f1"] for r in curve], "-o", ms=3,
                label="router (LLM + retrieved cases)")
        for name, marker in (("slm", "s"), ("llm_zero_shot", "^"), ("llm_random_cases", "v"),
                             ("llm_retrieved_cases", "D"), ("adaptive", "*")):
            row = result["systems"][name]
            ax.plot(row["llm_share"], row["macro_f1"], marker, ms=10 if name == "adaptive" else 7, label=name)
        ax.set_title(f"{task}: macro-F1 vs share of items sent to the LLM")
        ax.set_xlabel("share of items answered by the LLM")
        ax.set_ylabel("macro-F1 (items)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def markdown(report: dict[str, Any]) -> str:
    lines = ["# AdaptiveLog routing benchmark", "", f"LLM: {report['llm']}; small model: fine-tuned "
             f"all-MiniLM-L6-v2; statistic: {report['statistic']}; k = {report['k']}.", ""]
    for task, result in report["tasks"].items():
        lines += [f"## {task} ({result['test_logs']} distinct test logs, {result['test_items']} items)", "",
                  "| system | accuracy | macro-F1 | LLM share (items) | s / item | LLM tokens / item |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for name, row in result["systems"].items():
            lines.append(f"| {name} | {row['accuracy']:.3f} | {row['macro_f1']:.3f} | {row['llm_share']:.1%} | "
                         f"{row['seconds_per_item']:.3f} | {row['llm_tokens_per_item']:.0f} |")
        for key, what in (("on_routed", "routed logs"), ("least_sure_30", "30% least sure logs")):
            subset = result[key]
            if subset:
                lines += ["", f"On the {subset['logs']} {what} ({subset['items']} items):", "",
                          "| system | accuracy | macro-F1 |", "| --- | --- | --- |"]
                for name in ("slm", "llm_zero_shot", "llm_random_cases", "llm_retrieved_cases"):
                    lines.append(f"| {name} | {subset[name]['accuracy']:.3f} | {subset[name]['macro_f1']:.3f} |")
        lines += ["", f"Small model cold: {result['slm_cold_events_per_s']:.0f} distinct events/s (MC dropout, "
                  f"{report['mc_passes']} passes).", ""]
    speed = report["speed"]
    lines += ["## Small-model path on HDFS-like lines", "",
              f"{speed['lines']} lines, {speed['distinct_inputs']} distinct small-model inputs: first pass "
              f"{speed['first_pass_events_per_s']:.0f} events/s, warm verdict cache "
              f"{speed['warm_cache_events_per_s']:.0f} events/s.", "", "![curve](adaptive_curve.png)", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("reports/adaptive"))
    parser.add_argument("--router", type=Path, default=None,
                        help="a router folder (default: models/router, trained first when missing)")
    parser.add_argument("--tasks", default="anomaly,diagnosis")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--speed-lines", type=int, default=20_000)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    router_dir = args.router or ROOT / "models" / "router"
    if not (router_dir / "router.json").is_file():
        from pipelines import train_slm

        train_slm.main(["--data", str(DATA / "logeval"), "--tasks", args.tasks, "--out", str(router_dir),
                        "--seed", str(args.seed)])
    from logai.llm.local import LocalBackend

    backend = LocalBackend()
    router = load_router(router_dir, backend=backend, llm_name=backend.model_name)
    store = AnswerLog(args.out / "llm_answers.jsonl")
    report: dict[str, Any] = {"llm": backend.model_name, "statistic": router.statistic, "k": router.k,
                              "mc_passes": next(iter(router.models.values())).mc_passes, "tasks": {}}
    for task in args.tasks.split(","):
        report["tasks"][task] = bench_task(router, task, args.out, store, args.seed)
    report["speed"] = bench_speed(router, args.speed_lines)
    plot(report, args.out / "adaptive_curve.png")
    write_report(args.out, report, markdown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
