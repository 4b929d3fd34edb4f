"""Labelled lines for the default anomaly router, per system: LogEval's BGL answers and Loghub levels.

Three kinds of labels, kept apart by `Example.kind`:
- `gold`: the LogEval anomaly items (BGL lines with normal/abnormal answers), one example per distinct log,
  weighted by how many items ask about it;
- `weak`: the Loghub-2k systems' own levels, parsed by logai as a user's lines would be (format detected):
  ERROR and CRITICAL lines are `abnormal`, TRACE to NOTICE `normal`; WARNING and level-less lines are left
  out. A weak example is given twice, with its level and without it, so the text is learned on its own
  and an unseen system's level-less lines are still judged by their words;
- `background`: every other Loghub line (no level, or WARNING), `normal`, its text only, each distinct input
  counted at most a few times. Most lines of any system are routine: these teach the head what ordinary
  lines of many systems read like, where levels label only a few systems. Leaving one system out, a head
  without them called 12.9% of BGL's and 15.2% of Windows' level-less normal lines abnormal (1.8% and 0.2%
  with them).

Inputs are `leveled_text` strings, what the router feeds `HeadClassifier`; repeated inputs are merged
(weights add). Reads benchmark data: training and benchmarks only, never the product.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from logai.config import Settings
from logai.evaluation.logeval import LogEvalItem, labelled_logs
from logai.events import Event
from logai.parsing.format_detect import detect_format
from logai.pipeline import Pipeline
from logai.slm.inputs import LEVEL_SEP, folded_text, leveled_text

ABNORMAL_LEVELS = frozenset({"ERROR", "CRITICAL"})
NORMAL_LEVELS = frozenset({"TRACE", "DEBUG", "INFO", "NOTICE"})


@dataclass
class Example:
    input: str  # `leveled_text`
    label: str
    weight: float
    system: str
    kind: str  # "gold", "weak" or "background"


def merge(examples: Iterable[Example]) -> list[Example]:
    """One example per (system, kind, input, label), weights added, in first-seen order."""
    merged: dict[tuple[str, str, str, str], Example] = {}
    for x in examples:
        key = (x.system, x.kind, x.input, x.label)
        if key in merged:
            merged[key].weight += x.weight
        else:
            merged[key] = Example(x.input, x.label, x.weight, x.system, x.kind)
    return list(merged.values())


def gold_examples(items: Sequence[LogEvalItem], settings: Settings, system: str = "BGL") -> list[Example]:
    """LogEval anomaly items as examples: the log as a message with no header (LogEval gives the message)."""
    pipeline = Pipeline(settings)
    out = []
    for number, x in enumerate(labelled_logs(items)):
        event = pipeline.parse_text(x.log, source=f"logeval-{system}", format_name="plain", line=number + 1)
        out.append(Example(leveled_text(event), x.label, x.weight, system, "gold"))
    return merge(out)


def _events(log_file: Path, settings: Settings, system: str) -> Iterator[Event]:
    """A raw log's lines as events, parsed with the format logai detects for it."""
    lines = log_file.read_text(encoding="utf-8", errors="replace").splitlines()
    pipeline = Pipeline(settings)
    fmt = detect_format(lines[:200], pipeline.registry)
    for number, line in enumerate(lines):
        yield pipeline.parse_text(line.rstrip("\r"), source=f"loghub-{system}", format_name=fmt, line=number + 1)


def weak_examples(log_file: Path, settings: Settings, system: str, weight: float = 1.0) -> list[Example]:
    """A raw log's lines with level-derived labels."""
    out = []
    for event in _events(log_file, settings, system):
        label = ("abnormal" if event.level in ABNORMAL_LEVELS else "normal" if event.level in NORMAL_LEVELS
                 else None)
        if label is None:
            continue
        out.append(Example(leveled_text(event), label, weight / 2, system, "weak"))
        out.append(Example(LEVEL_SEP + folded_text(event), label, weight / 2, system, "weak"))
    return merge(out)


def background_examples(log_file: Path, settings: Settings, system: str, weight: float = 1.0,
                        cap: float = 3.0) -> list[Example]:
    """A raw log's lines that levels do not label, as `normal` text: each distinct input weighs its count
    times `weight`, at most `cap`."""
    texts = (folded_text(event) for event in _events(log_file, settings, system)
             if event.level not in ABNORMAL_LEVELS and event.level not in NORMAL_LEVELS)
    out = [Example(LEVEL_SEP + text, "normal", weight, system, "background") for text in texts if text.strip()]
    merged = merge(out)
    for x in merged:
        x.weight = min(x.weight, cap * weight)
    return merged


def loghub_systems(root: Path) -> dict[str, Path]:
    """System name -> raw 2k log of every Loghub system folder under `root`."""
    return {folder.name: log for folder in sorted(root.iterdir()) if folder.is_dir()
            for log in [folder / f"{folder.name}_2k.log"] if log.is_file()}


def by_system(examples: Iterable[Example]) -> dict[str, list[Example]]:
    out: dict[str, list[Example]] = defaultdict(list)
    for x in examples:
        out[x.system].append(x)
    return dict(out)
