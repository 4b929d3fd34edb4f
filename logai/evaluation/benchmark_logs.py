"""Loaders for the Loghub-2k benchmark files (raw logs and structured ground-truth CSVs)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

LOGHUB2_SYSTEMS = [
    "Apache", "BGL", "HDFS", "HPC", "Hadoop", "HealthApp", "Linux", "Mac", "OpenSSH", "OpenStack",
    "Proxifier", "Spark", "Thunderbird", "Zookeeper",
]
LOGHUB_SYSTEMS = [*LOGHUB2_SYSTEMS, "Android", "Windows"]


@dataclass
class LabelledLog:
    system: str
    lines: list[bytes]  # raw lines, CR/LF stripped
    templates: list[str]  # ground-truth template per line, aligned with `lines`


class BenchmarkDataError(ValueError):
    """A benchmark file is missing or malformed; the message names the file."""


def read_raw_lines(path: Path) -> list[bytes]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BenchmarkDataError(f"cannot read {path}: {exc}") from exc
    return [line.rstrip(b"\r") for line in data.split(b"\n") if line.rstrip(b"\r")]


def read_structured_templates(path: Path) -> list[str]:
    """The `EventTemplate` column of a Loghub `_structured*.csv`, in `LineId` order."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise BenchmarkDataError(f"cannot read {path}: {exc}") from exc
    if not rows or "EventTemplate" not in rows[0] or "LineId" not in rows[0]:
        raise BenchmarkDataError(f"{path}: expected LineId and EventTemplate columns")
    rows.sort(key=lambda r: int(r["LineId"]))
    return [r["EventTemplate"] for r in rows]


def load_labelled(data_dir: Path, system: str, annotation: str) -> LabelledLog:
    """`annotation`: 'loghub2' (Loghub-2.0 labels) or 'corrected' (ICSE'22 corrected Loghub-2k labels)."""
    raw = read_raw_lines(data_dir / "loghub_2k" / system / f"{system}_2k.log")
    if annotation == "loghub2":
        truth = data_dir / "loghub2_2k" / system / f"{system}_2k.log_structured.csv"
    elif annotation == "corrected":
        truth = data_dir / "loghub_2k" / system / f"{system}_2k.log_structured_corrected.csv"
    else:
        raise ValueError(f"unknown annotation {annotation!r}: use 'loghub2' or 'corrected'")
    templates = read_structured_templates(truth)
    if len(templates) != len(raw):
        raise BenchmarkDataError(f"{system}: {len(raw)} log lines but {len(templates)} labelled rows")
    return LabelledLog(system, raw, templates)
