"""Anomaly-detection benchmark: every detector on every dataset, with the protocol written in the report.

    python pipelines/bench_anomaly.py --out reports/anomaly

Datasets (../shared/data):
- DeepLog HDFS sessions (`anomaly_detection/hdfs/deeplog`): template-id sequences per block. `hdfs_train`
  (normal) is shuffled (seed 0) and split in half: one half trains, the other is the normal test set. The
  abnormal test set is `hdfs_test_abnormal`; 10% of it (seed 0) is given to the supervised detectors for
  training and the other 90% is the abnormal test set of every detector. Unsupervised and semi-supervised
  detectors never see an abnormal session.
- LogEval anomaly items (`logeval/log_anormaly`, English zero-shot file; BGL lines labelled normal or
  abnormal): each line is parsed by logai's parser and represented by its template's words; the unique
  inputs are split 50/50 by input within each label (seed 0), so no log is on both sides, then every item
  is scored.
Isolation Forest is fitted on the unlabelled union of the normal training part and the test part (it can
only isolate values inside the ranges it has seen); PCA, Invariants Mining and DeepLog on normal training
sessions only; logistic regression, gradient boosting and the LogRobust-style attention BiLSTM (over MiniLM
vectors of the template texts; DeepLog keys are mapped to Loghub's HDFS event templates, key k = E<k>) on the
labelled training part.
- HDFS_2k block sessions: the raw HDFS_2k log parsed by logai, events grouped by block id (regex over
  parameter values), labelled by HDFS_2k.anomaly_label.csv; blocks split 50/50 within each label (seed 0).
Reported: precision, recall, F1 (anomaly = positive) and scoring throughput per detector and dataset, and
the per-line cost that in-stream detection adds to parsing.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from logai.detect.training import DETECTORS, SUPERVISED, make_detector  # noqa: E402
from pipelines.reporting import write_report  # noqa: E402

DATA = Path(os.environ.get("LOGAI_BENCH_DATA", ROOT.parent / "shared" / "data"))


def detectors() -> dict[str, Any]:
    return {name: make_detector(name) for name in DETECTORS}


def prf(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    tp = int(np.sum((y_pred == 1) & (y_true == 1)))
    fp = int(np.sum((y_pred == 1) & (y_true == 0)))
    fn = int(np.sum((y_pred == 0) & (y_true == 1)))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "tp": tp, "fp": fp, "fn": fn}


def _read_sessions(path: Path) -> list[list[str]]:
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


def deeplog_hdfs() -> dict[str, Any]:
    folder = DATA / "anomaly_detection" / "hdfs" / "deeplog"
    normal, abnormal = _read_sessions(folder / "hdfs_train"), _read_sessions(folder / "hdfs_test_abnormal")
    rng = random.Random(0)
    rng.shuffle(normal)
    rng.shuffle(abnormal)
    half, tenth = len(normal) // 2, len(abnormal) // 10
    train_normal, test_normal = normal[:half], normal[half:]
    train_abnormal, test_abnormal = abnormal[:tenth], abnormal[tenth:]
    with open(DATA / "loghub_2k" / "HDFS" / "HDFS_templates.csv", newline="") as handle:
        # DeepLog's log keys are numbered as Loghub's HDFS events: key k is E<k>
        templates = {row["EventId"][1:]: row["EventTemplate"] for row in csv.DictReader(handle)}
    return {"to_text": lambda seq: [templates.get(k, f"event {k}") for k in seq],
            "train_normal": train_normal, "train_abnormal": train_abnormal,
            "test": test_normal + test_abnormal, "labels": np.array([0] * len(test_normal) + [1] * len(test_abnormal)),
            "sizes": {"train_normal": len(train_normal), "train_abnormal (supervised only)": len(train_abnormal),
                      "test_normal": len(test_normal), "test_abnormal": len(test_abnormal)}}


def logeval_lines() -> dict[str, Any]:
    from logai.pipeline import Pipeline

    items = json.loads((DATA / "logeval/log_anormaly/evaluation_set_english_abnormal_detect_zero_shot.json")
                       .read_text())
    label_of = {item["input"]: item["output"].strip() for item in items}
    rng = random.Random(0)
    train_inputs: set[str] = set()
    for label in ("normal", "abnormal"):  # stratified: abnormal inputs are few (11), split them too
        inputs = sorted(i for i, lab in label_of.items() if lab == label)
        rng.shuffle(inputs)
        train_inputs.update(inputs[: len(inputs) // 2])
    inputs = list(label_of)
    pipeline = Pipeline()

    def words(text: str) -> list[str]:
        line = text.split("log entry:", 1)[-1].strip()
        event = pipeline.parse_text(line, source="logeval-bgl", format_name="generic", line=0)
        return (event.template or event.content).split()

    train = [(words(i["input"]), int(i["output"].strip() == "abnormal")) for i in items if i["input"] in train_inputs]
    test = [(words(i["input"]), int(i["output"].strip() == "abnormal")) for i in items
            if i["input"] not in train_inputs]
    return {"to_text": lambda words: [" ".join(words)],  # one line: its template as one step
            "train_normal": [w for w, y in train if y == 0], "train_abnormal": [w for w, y in train if y == 1],
            "test": [w for w, _ in test], "labels": np.array([y for _, y in test]),
            "sizes": {"train_items": len(train), "train_abnormal": sum(y for _, y in train),
                      "test_items": len(test), "test_abnormal": sum(y for _, y in test),
                      "unique_inputs": len(inputs)}}


def hdfs_2k_blocks() -> dict[str, Any]:
    """HDFS_2k parsed by logai, sessions keyed by block id, labelled by HDFS_2k.anomaly_label.csv."""
    from logai.detect.training import collect_groups, read_labels
    from logai.pipeline import Pipeline

    pipeline = Pipeline()
    texts: dict[str, str] = {}

    def remember(events):
        for event in events:
            texts[event.template_id] = event.template
            yield event

    with open(DATA / "loghub_2k" / "HDFS" / "HDFS_2k.log", "rb") as handle:
        groups = collect_groups(remember(pipeline.parse_stream(handle, source="hdfs", format_name="HDFS")),
                                pattern=r"blk_-?\d+")
    labels = read_labels(DATA / "anomaly_detection" / "hdfs" / "HDFS_2k.anomaly_label.csv")
    groups = [g for g in groups if g.key in labels]
    rng = random.Random(0)
    train, test = [], []
    for label in (0, 1):  # stratified 50/50 split of blocks
        part = [g for g in groups if labels[g.key] == label]
        rng.shuffle(part)
        train += part[: len(part) // 2]
        test += part[len(part) // 2 :]
    return {"to_text": lambda seq: [texts[t] for t in seq],
            "train_normal": [g.templates for g in train if labels[g.key] == 0],
            "train_abnormal": [g.templates for g in train if labels[g.key] == 1],
            "test": [g.templates for g in test], "labels": np.array([labels[g.key] for g in test]),
            "sizes": {"blocks": len(groups), "anomalous_blocks": sum(labels[g.key] for g in groups),
                      "train_blocks": len(train), "test_blocks": len(test)}}


def streaming_overhead(lines: int = 200_000, runs: int = 5) -> dict[str, Any]:
    """Per-line cost of parsing alone vs parsing plus in-stream detection (signals, block sessions, a PCA
    detector scoring closed sessions), on the same HDFS-like lines (block sessions of 10 events), same
    process, median of `runs`."""
    import gc
    import re
    import statistics

    from logai.config import DetectConfig
    from logai.detect.stream import StreamScorer
    from logai.detect.training import collect_groups, fit
    from logai.pipeline import Pipeline
    from pipelines import hdfs_like

    # the generator gives every line its own block; reassign ids so blocks have sessions as in HDFS:
    # 50 blocks open at a time, 10 events each
    block = re.compile(r"blk_-?\d+")
    raw = [block.sub(f"blk_{(i % 50) + 50 * (i // 500)}", text)
           for i, text in enumerate(hdfs_like.generate(lines, seed=3))]
    training = Pipeline()
    parse = training.open_source("hdfs", "HDFS").parse
    detector = fit("pca", collect_groups((parse(t, "hdfs", i, None, []) for i, t in enumerate(raw[:50_000])),
                                         pattern=r"blk_-?\d+"))
    gc.freeze()  # the input lines are long-lived: keep the collector from rescanning them (both modes alike)
    timings: dict[str, list[float]] = {"parse": [], "parse+detect": []}
    for _ in range(runs):
        for mode in timings:
            pipeline = Pipeline()
            parse = pipeline.open_source("hdfs", "HDFS").parse
            scorer = None
            if mode == "parse+detect":
                scorer = StreamScorer.from_config(DetectConfig(session_pattern=r"blk_-?\d+", session_timeout_s=60))
                scorer.detector, scorer.detector_name = detector, "PCADetector"
            started = time.perf_counter()
            batch = []
            for i, text in enumerate(raw):
                batch.append(parse(text, "hdfs", i + 1, None, []))
                if len(batch) == 2000:
                    if scorer is not None:
                        scorer.process(batch)
                    batch = []
            if scorer is not None:
                scorer.process(batch)
                scorer.flush()
            timings[mode].append((time.perf_counter() - started) / lines * 1e6)
    parse_us, full_us = statistics.median(timings["parse"]), statistics.median(timings["parse+detect"])
    return {"lines": lines, "runs": runs, "parse_us_per_line": parse_us, "parse_and_detect_us_per_line": full_us,
            "overhead": full_us / parse_us - 1}


def evaluate(data: dict[str, Any]) -> dict[str, Any]:
    results = {}
    for name, detector in detectors().items():
        started = time.perf_counter()
        to_text = data["to_text"] if getattr(detector, "uses_text", False) else (lambda seq: seq)
        test = [to_text(seq) for seq in data["test"]]
        if name in SUPERVISED:
            train = [to_text(seq) for seq in data["train_normal"] + data["train_abnormal"]]
            detector.fit(train, [0] * len(data["train_normal"]) + [1] * len(data["train_abnormal"]))
        elif name == "isolation_forest":  # unlabelled traffic, as Loglizer evaluates it (see its docstring)
            detector.fit(data["train_normal"] + data["test"])
        else:
            detector.fit(data["train_normal"])
        fit_s = time.perf_counter() - started
        started = time.perf_counter()
        predicted = detector.predict(test)
        score_s = time.perf_counter() - started
        events = sum(len(s) for s in data["test"])
        results[name] = {**prf(data["labels"], predicted), "fit_seconds": fit_s,
                         "events_per_s": events / score_s if score_s else None}
        print(f"  {name:<17} F1 {results[name]['f1']:.3f}  P {results[name]['precision']:.3f}  "
              f"R {results[name]['recall']:.3f}  ({fit_s:.1f} s fit)", flush=True)
    return results


def markdown(report: dict[str, Any]) -> str:
    out = ["# Anomaly-detection benchmark", "", "Protocol:", "", "```", report["protocol"].strip(), "```", ""]
    for dataset, block in report["datasets"].items():
        out += [f"## {dataset}", "", "Sizes: " + ", ".join(f"{k} {v:,}" for k, v in block["sizes"].items()), "",
                "| detector | precision | recall | F1 | scoring events/s |", "| --- | --- | --- | --- | --- |"]
        for name, row in block["results"].items():
            speed = f"{row['events_per_s']:,.0f}" if row["events_per_s"] else "-"
            out.append(f"| {name} | {row['precision']:.3f} | {row['recall']:.3f} | **{row['f1']:.3f}** | {speed} |")
        out.append("")
    if "streaming" in report:
        st = report["streaming"]
        out += ["## Streaming cost", "", f"{st['lines']:,} HDFS-like lines in block sessions of 10 events, median "
                f"of {st['runs']} runs, one process: "
                f"parsing {st['parse_us_per_line']:.1f} µs/line, parsing + in-stream detection (new-template, "
                f"template-rate and error-rate signals, block sessions scored by PCA) "
                f"{st['parse_and_detect_us_per_line']:.1f} µs/line: **+{100 * st['overhead']:.1f}%**.", ""]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "anomaly")
    ap.add_argument("--lines", type=int, default=200_000, help="HDFS-like lines for the streaming-overhead run")
    ap.add_argument("--runs", type=int, default=5, help="timing runs of the streaming-overhead check (median)")
    args = ap.parse_args()
    report: dict[str, Any] = {"protocol": __doc__, "datasets": {}}
    for name, load in (("DeepLog HDFS sessions", deeplog_hdfs), ("HDFS_2k block sessions (parsed by logai)",
                                                                  hdfs_2k_blocks),
                       ("LogEval anomaly lines (English)", logeval_lines)):
        print(name, flush=True)
        data = load()
        report["datasets"][name] = {"sizes": data["sizes"], "results": evaluate(data)}
    report["streaming"] = streaming_overhead(args.lines, args.runs)
    print(f"streaming detection overhead: {100 * report['streaming']['overhead']:.1f}%", flush=True)
    write_report(args.out, report, markdown)


if __name__ == "__main__":
    main()
