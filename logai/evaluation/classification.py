"""Classification metrics over label lists: accuracy, per-label precision/recall/F1, macro-F1, and the
binary F1 of one positive label (LogEval's anomaly F1 counts `abnormal` as positive)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LabelScore:
    precision: float
    recall: float
    f1: float
    support: int


def _check(gold: Sequence[str], predicted: Sequence[str]) -> None:
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold labels but {len(predicted)} predictions")


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    _check(gold, predicted)
    return sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold) if gold else 0.0


def label_score(gold: Sequence[str], predicted: Sequence[str], label: str) -> LabelScore:
    _check(gold, predicted)
    tp = sum(g == label and p == label for g, p in zip(gold, predicted, strict=True))
    fp = sum(g != label and p == label for g, p in zip(gold, predicted, strict=True))
    fn = sum(g == label and p != label for g, p in zip(gold, predicted, strict=True))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return LabelScore(precision, recall, f1, tp + fn)


def macro_f1(gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None) -> float:
    """Mean F1 over `labels` (default: every label seen in gold or predictions)."""
    _check(gold, predicted)
    labels = list(labels) if labels is not None else sorted(set(gold) | set(predicted))
    if not labels:
        return 0.0
    return sum(label_score(gold, predicted, label).f1 for label in labels) / len(labels)
