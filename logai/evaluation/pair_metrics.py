"""SemParser's pair metric: a predicted (concept, instance) pair counts iff it is among the line's gold pairs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable


class PairScore:
    """Accumulates micro-averaged precision, recall and F1 over lines."""

    def __init__(self) -> None:
        self.true_positives = self.predicted = self.gold = 0

    def add(self, predicted: Iterable[tuple[str, str]], gold: Iterable[tuple[str, str]]) -> None:
        p, g = Counter(predicted), Counter(gold)
        self.true_positives += sum((p & g).values())
        self.predicted += sum(p.values())
        self.gold += sum(g.values())

    @property
    def precision(self) -> float:
        return self.true_positives / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)
