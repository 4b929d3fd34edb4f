"""Classification metrics over label lists: accuracy, per-label precision/recall/F1, macro-F1, and the
binary F1 of one positive label (LogEval's anomaly F1 counts `abnormal` as positive), weighted or not."""

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


def binary_scores(gold: Sequence[str], predicted: Sequence[str], positive: str = "abnormal",
                  weights: Sequence[float] | None = None) -> dict[str, float]:
    """F1, precision, recall and false-positive rate of `positive`, each item counted `weights[i]` times (a
    distinct log asked about by several items), rounded to 4 places; `items` is the weighted count."""
    _check(gold, predicted)
    w = [1.0] * len(gold) if weights is None else list(weights)
    tp = fp = fn = tn = 0.0
    for g, p, weight in zip(gold, predicted, w, strict=True):
        if p == positive:
            tp, fp = (tp + weight, fp) if g == positive else (tp, fp + weight)
        else:
            fn, tn = (fn + weight, tn) if g == positive else (fn, tn + weight)
    return {"f1": round(2 * tp / (2 * tp + fp + fn), 4) if tp else 0.0,
            "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
            "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
            "fpr": round(fp / (fp + tn), 4) if fp + tn else 0.0, "items": round(sum(w))}
