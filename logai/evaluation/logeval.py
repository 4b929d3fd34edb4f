"""LogEval's question files (Cui et al., 2024): a JSON list of `{id, instruction, input, output}` per task,
language and shot setting. Loading is strict (a malformed file is an error naming the file and item), and
splitting is by *input*: the same log line asked under 15 prompts never lands on both sides of a split.
"""

from __future__ import annotations

import json
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

_PREFIX = re.compile(r"^\s*(?:log(?: entry| sequence)?|日志)\s*[:：]\s*", re.IGNORECASE)
_CHOICES = re.compile(r"[{｛]([^{}｛｝]+)[}｝]")


class LogEvalFormatError(ValueError):
    """A LogEval file that is not a list of {id, instruction, input, output} objects."""


@dataclass(frozen=True)
class LogEvalItem:
    id: int
    instruction: str
    input: str
    output: str

    @property
    def log(self) -> str:
        """The log text without LogEval's "log entry:" prefix."""
        return _PREFIX.sub("", self.input.strip(), count=1).strip()

    @property
    def choices(self) -> list[str]:
        """Labels the instruction offers in braces (fault diagnosis), in order, without repeats."""
        match = _CHOICES.search(self.instruction)
        if not match:
            return []
        return list(dict.fromkeys(c.strip() for c in re.split(r"[,，、]", match.group(1)) if c.strip()))


def load_logeval(path: str | Path) -> list[LogEvalItem]:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LogEvalFormatError(f"{path}: not a readable JSON file ({exc})") from exc
    if not isinstance(data, list):
        raise LogEvalFormatError(f"{path}: expected a JSON list of items, got {type(data).__name__}")
    items = []
    for position, raw in enumerate(data):
        if not isinstance(raw, dict):
            raise LogEvalFormatError(f"{path}: item {position} is not an object")
        missing = [k for k in ("instruction", "input", "output") if not isinstance(raw.get(k), str)]
        if missing:
            raise LogEvalFormatError(f"{path}: item {position} lacks string field(s) {', '.join(missing)}")
        items.append(LogEvalItem(int(raw.get("id", position)), raw["instruction"], raw["input"], raw["output"]))
    return items


@dataclass
class Split:
    train: list[LogEvalItem]
    dev: list[LogEvalItem]
    test: list[LogEvalItem]


def split_by_input(items: Sequence[LogEvalItem], fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
                   seed: int = 0) -> Split:
    """Train/dev/test by distinct log text, stratified by label so rare labels reach every part."""
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError("split fractions must sum to 1")
    by_label: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for item in items:
        if item.log not in seen:
            seen.add(item.log)
            by_label[item.output].append(item.log)
    part_of: dict[str, int] = {}
    rng = random.Random(seed)
    for label in sorted(by_label):
        logs = sorted(by_label[label])
        rng.shuffle(logs)
        n_train = round(len(logs) * fractions[0])
        n_dev = round(len(logs) * fractions[1])
        if len(logs) >= 3:  # at least one of each label in dev (and in test, when there is one)
            n_dev = max(n_dev, 1)
            n_train = min(n_train, len(logs) - n_dev - (1 if fractions[2] > 0 else 0))
        for i, log in enumerate(logs):
            part_of[log] = 0 if i < n_train else 1 if i < n_train + n_dev else 2
    parts: list[list[LogEvalItem]] = [[], [], []]
    for item in items:
        parts[part_of[item.log]].append(item)
    return Split(*parts)


def folds_by_input(items: Sequence[LogEvalItem], k: int, seed: int = 0) -> dict[str, int]:
    """The fold (0..k-1) of each distinct log, stratified by label: for cross-fitting, where every item is
    scored by a model trained on the other folds, so no scored log was ever seen in training."""
    if k < 2:
        raise ValueError("cross-fitting needs at least 2 folds")
    by_label: dict[str, list[str]] = defaultdict(list)
    for item in unique_logs(items):
        by_label[item.output].append(item.log)
    rng = random.Random(seed)
    fold_of: dict[str, int] = {}
    for label in sorted(by_label):
        logs = sorted(by_label[label])
        rng.shuffle(logs)
        start = rng.randrange(k)  # rare labels do not all land in fold 0
        for i, log in enumerate(logs):
            fold_of[log] = (start + i) % k
    return fold_of


def unique_logs(items: Iterable[LogEvalItem]) -> list[LogEvalItem]:
    """The first item of each distinct log text (LogEval asks each log under many prompts)."""
    first: dict[str, LogEvalItem] = {}
    for item in items:
        first.setdefault(item.log, item)
    return list(first.values())


TASK_PATTERNS = {"parsing": "log_parsing", "anomaly": "abnormal_detect", "diagnosis": "fault_diagnosis",
                 "summary": "log_summary"}
LANGUAGES = {"en": "english", "zh": "chinese"}


def find_logeval_file(root: str | Path, task: str, lang: str = "en", shots: str = "zero") -> Path:
    """The file of one task × language × shot setting under `root` (LogEval's own file names)."""
    if task not in TASK_PATTERNS:
        raise ValueError(f"unknown LogEval task {task!r}; known: {', '.join(TASK_PATTERNS)}")
    if lang not in LANGUAGES or shots not in ("zero", "few"):
        raise ValueError(f"lang is one of {list(LANGUAGES)} and shots zero or few, not {lang!r}/{shots!r}")
    wanted = (TASK_PATTERNS[task], LANGUAGES[lang], f"{shots}_shot")
    found = sorted(p for p in Path(root).rglob("*.json") if all(w in p.name for w in wanted))
    if not found:
        raise FileNotFoundError(f"no LogEval {task}/{lang}/{shots}-shot file under {root}")
    return found[0]


def labelled_logs(items: Iterable[LogEvalItem]):
    """Distinct logs with their label, weight (items asking about them) and offered choices."""
    from logai.route.training import LabelledLog

    grouped: dict[str, LabelledLog] = {}
    for item in items:
        entry = grouped.get(item.log)
        if entry is None:
            grouped[item.log] = LabelledLog(item.log, item.output, 1.0, item.choices or None)
        else:
            entry.weight += 1.0
    return list(grouped.values())
