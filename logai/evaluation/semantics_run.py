"""Semantics on SemParser's gold: each Loghub-2k line parsed by logai with semantics on, exactly as the
product does; a predicted (concept, instance) pair counts iff it is among the line's gold pairs (SemParser's
definition). Shared by `logai eval semparser` and pipelines/bench_semantics.py."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from logai.config import Settings
from logai.evaluation.benchmark_logs import read_raw_lines
from logai.evaluation.pair_metrics import PairScore
from logai.evaluation.semparser_data import read_gold
from logai.pipeline import Pipeline

LOGHUB_NAME = {"Andriod": "Android"}  # SemParser's spelling -> Loghub's


def semparser_scores(data: Path, system: str, settings: Settings | None = None) -> dict[str, Any]:
    """Pair precision/recall/F1 of one system (SemParser's name) and the lines/s of that run, parsed with
    `settings` (default: the built-in configuration)."""
    name = LOGHUB_NAME.get(system, system)
    gold = {g.line_id: g.pairs for g in read_gold(data / "semparser" / "test" / "label" / f"{system}_gt.csv")}
    raw = read_raw_lines(data / "loghub_2k" / name / f"{name}_2k.log")
    pipeline = Pipeline(settings)
    semantics = pipeline.semantics
    if semantics is None:
        raise RuntimeError("semantics are switched off in the configuration: nothing to score")
    score = PairScore()
    start = time.perf_counter()
    for line_id, line in enumerate(raw, start=1):
        event = pipeline.parse_bytes(line, source=name, format_name=name, line=line_id)
        if line_id in gold:
            score.add(semantics.pairs(event), gold[line_id])
    seconds = time.perf_counter() - start
    return {"precision": score.precision, "recall": score.recall, "f1": score.f1, "gold_pairs": score.gold,
            "predicted_pairs": score.predicted, "lines_per_s": len(raw) / seconds}
