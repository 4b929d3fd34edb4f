"""Training a router from a user's labelled lines (`logai router train`): any task, minutes on two cores.

The lines are parsed as the service would parse them; the small model is a `HeadClassifier` over the frozen
MiniLM, so only distinct inputs are embedded, once, and training is the head's (seconds). A dev share of
the distinct inputs (stratified by label) calibrates the temperature and yields the error-prone cases. The
folder is what `route.model_dir` and `logai analyze --router` take. The default router that ships with
logai is made the same way (`pipelines/train_default_router.py`).
"""

from __future__ import annotations

import csv
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from logai.route.cases import Case, CaseLibrary
from logai.route.reasons import write_reasons
from logai.route.training import ROUTER_FILE, LineParser
from logai.slm.head import NEIGHBOUR_SIM, HeadClassifier
from logai.slm.inputs import leveled_text, split_leveled


def read_labelled(path: Path) -> list[tuple[str, str]]:
    """(log, label) rows of a JSON-lines file ({"log", "label"}) or a CSV with `log` and `label` columns;
    ValueError names the first bad row."""
    rows: list[tuple[str, str]] = []
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"log", "label"} <= set(reader.fieldnames):
                raise ValueError(f"{path}: a CSV with 'log' and 'label' columns is expected, got {reader.fieldnames}")
            for number, row in enumerate(reader, start=2):
                rows.append(_row(row, f"{path}:{number}"))
    else:
        for number, line in enumerate(path.read_bytes().splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(_row(orjson.loads(line), f"{path}:{number}"))
                except orjson.JSONDecodeError as exc:
                    raise ValueError(f"{path}:{number}: not JSON ({exc})") from exc
    if not rows:
        raise ValueError(f"{path}: no labelled lines")
    return rows


def _row(row: Any, where: str) -> tuple[str, str]:
    if not isinstance(row, dict) or not isinstance(row.get("log"), str) or not isinstance(row.get("label"), str) \
            or not row["log"].strip() or not row["label"].strip():
        raise ValueError(f"{where}: each row needs a non-empty 'log' and 'label'")
    return row["log"], row["label"].strip()


def distinct_inputs(rows: Iterable[tuple[str, str]], pipeline: LineParser, format_name: str, source: str
                    ) -> list[tuple[str, str, float]]:
    """(input, label, weight): each line parsed as the service would, repeated inputs merged."""
    weights: dict[tuple[str, str], float] = defaultdict(float)
    for number, (log, label) in enumerate(rows):
        event = pipeline.parse_text(log, source=source, format_name=format_name, line=number + 1)
        weights[(leveled_text(event), label)] += 1.0
    return [(text, label, weight) for (text, label), weight in weights.items()]


def split_dev(items: Sequence[tuple[str, str, float]], share: float, seed: int
              ) -> tuple[list[tuple[str, str, float]], list[tuple[str, str, float]]]:
    """Train and dev by distinct input, stratified by label (a label with one input stays in train)."""
    by_label: dict[str, list[tuple[str, str, float]]] = defaultdict(list)
    for item in items:
        by_label[item[1]].append(item)
    rng = random.Random(seed)
    train, dev = [], []
    for label in sorted(by_label):
        group = sorted(by_label[label])
        rng.shuffle(group)
        n_dev = round(len(group) * share) if len(group) > 1 else 0
        dev += group[:n_dev]
        train += group[n_dev:]
    return train, dev


def error_prone_cases(model: HeadClassifier, inputs: Sequence[str], labels: Sequence[str], task: str,
                      share: float = 0.3, origin: Sequence[str] | None = None) -> list[Case]:
    """Inputs the head gets wrong, and the `share` it is least sure of, as cases with a reason."""
    if not inputs:
        return []
    mc = model.predict_mc(list(inputs))
    uncertainty = mc.uncertainty()
    doubtful = np.quantile(uncertainty, 1 - share)
    cases = []
    for i, (text, gold, said, u) in enumerate(zip(inputs, labels, mc.labels, uncertainty, strict=True)):
        if said != gold or u >= doubtful:
            log = split_leveled(text)[1]
            cases.append(Case(log=log, template=log, label=gold, small_model_label=said, task=task,
                              meta={"uncertainty": round(float(u), 4), "origin": origin[i] if origin else "dev"}))
    return write_reasons(cases)


def save_head_router(folder: Path, task: str, model: HeadClassifier, library: CaseLibrary, report: dict[str, Any],
                     **manifest: Any) -> Path:
    """`<folder>/<task>/` (the head), `<folder>/cases/` and `<folder>/router.json`, as `load_router` reads."""
    model.save(folder / task, task=task)
    library.save(folder / "cases")
    record = {"tasks": {task: {"threshold": 0.0, "labels": model.labels_, "cases": len(library), **report}},
              "statistic": "entropy", **manifest}
    (folder / ROUTER_FILE).write_text(json.dumps(record, indent=2, default=str))
    return folder


def train_head_router(rows: Sequence[tuple[str, str]], task: str, out: Path, *, pipeline: LineParser,
                      format_name: str = "generic", dev_share: float = 0.2, seed: int = 0,
                      progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train and save a one-task router from (log, label) rows; returns its report."""
    started = time.perf_counter()
    say = progress or (lambda _: None)
    say("parse")
    items = distinct_inputs(rows, pipeline, format_name, f"train-{task}")
    train, dev = split_dev(items, dev_share, seed)
    model = HeadClassifier(seed=seed, neighbour_sim=NEIGHBOUR_SIM)
    say("embed")
    model.features([text for text, _, _ in items])  # each distinct input embedded once (cached for fit)
    say("fit")
    model.fit([t for t, _, _ in train], [label for _, label, _ in train], [w for _, _, w in train],
              [t for t, _, _ in dev], [label for _, label, _ in dev])
    dev_accuracy = None
    if dev:
        predicted = model.predict([t for t, _, _ in dev])
        weights = np.array([w for _, _, w in dev])
        dev_accuracy = float(np.average([p == label for p, (_, label, _) in zip(predicted, dev, strict=True)],
                                        weights=weights))
    say("cases")
    library = CaseLibrary(model.encoder())
    library.add(error_prone_cases(model, [t for t, _, _ in dev], [label for _, label, _ in dev], task))
    report = {"rows": len(rows), "distinct_inputs": len(items), "train_inputs": len(train), "dev_inputs": len(dev),
              "dev_accuracy": dev_accuracy, "temperature": model.temperature_,
              "train_seconds": round(time.perf_counter() - started, 1)}
    save_head_router(out, task, model, library, report, seed=seed, kind="user")
    return report
