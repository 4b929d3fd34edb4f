"""Loaders for SemParser's annotations (Huo et al., ICSE'23): training blocks and test gold."""

from __future__ import annotations

import ast
import csv
from dataclasses import dataclass, field
from pathlib import Path

SEMPARSER_SYSTEMS = ["Andriod", "HDFS", "Hadoop", "Linux", "OpenStack", "Spark", "Zookeeper"]  # upstream spelling
GOLD_SYSTEMS = ["Andriod", "Hadoop", "Linux", "OpenStack", "Spark", "Zookeeper"]  # the six with pair gold used


@dataclass
class AnnotatedMessage:
    tokens: list[str]
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (concept, instance)
    concepts: list[int] = field(default_factory=list)  # token indexes tagged MA
    instances: list[int] = field(default_factory=list)  # token indexes tagged MI
    pair_index: list[tuple[int, int]] = field(default_factory=list)  # (concept idx, instance idx)


def read_training_file(path: Path) -> list[AnnotatedMessage]:
    """`[TMP]` blocks, one token per line, optional tag MA/MI with a `-k` suffix pairing MA-k with MI-k."""
    messages: list[AnnotatedMessage] = []
    block: list[str] | None = None

    def flush() -> None:
        if block:
            messages.append(_parse_block(block))

    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() == "[TMP]":
            flush()
            block = []
        elif block is not None and line.strip():
            block.append(line.rstrip("\n"))
    flush()
    return messages


def _parse_block(lines: list[str]) -> AnnotatedMessage:
    msg = AnnotatedMessage(tokens=[])
    concept_of: dict[str, int] = {}
    instance_of: dict[str, int] = {}
    for i, line in enumerate(lines):
        parts = line.rsplit(" ", 1)
        token, tag = (parts[0], parts[1]) if len(parts) == 2 and parts[1].split("-")[0] in ("MA", "MI") \
            else (line, "")
        msg.tokens.append(token)
        kind, _, key = tag.partition("-")
        if kind == "MA":
            msg.concepts.append(i)
            if key:
                concept_of[key] = i
        elif kind == "MI":
            msg.instances.append(i)
            if key:
                instance_of[key] = i
    for key, ci in concept_of.items():
        if key in instance_of:
            ii = instance_of[key]
            msg.pair_index.append((ci, ii))
            msg.pairs.append((msg.tokens[ci], msg.tokens[ii]))
    return msg


def read_training(train_dir: Path) -> list[AnnotatedMessage]:
    out: list[AnnotatedMessage] = []
    for path in sorted(train_dir.glob("*.train")):
        out.extend(read_training_file(path))
    return out


@dataclass
class GoldLine:
    line_id: int
    tokens: list[str]
    pairs: list[tuple[str, str]]


def read_gold(path: Path) -> list[GoldLine]:
    """`test/label/<S>_gt.csv`: gold tokens and pairs per Loghub-2k line (malformed pairs are skipped)."""
    from logai.evaluation.benchmark_logs import BenchmarkDataError

    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise BenchmarkDataError(f"cannot read {path}: {exc}") from exc
    out = []
    for n, row in enumerate(rows, start=2):
        try:
            pairs = [tuple(p) for p in ast.literal_eval(row["pair"]) if len(p) == 2]
            out.append(GoldLine(int(row["LineID"]), ast.literal_eval(row["log"]), pairs))
        except (KeyError, ValueError, SyntaxError, TypeError) as exc:
            raise BenchmarkDataError(f"{path}, line {n}: expected LineID, log and pair columns ({exc})") from exc
    return out
