"""Monte Carlo dropout (Gal & Ghahramani, 2016) as AdaptiveLog uses it: N stochastic forward passes with
dropout left on; their agreement says how sure the small model is.

From the (passes, items, classes) probabilities we keep the mean probabilities, the predictive entropy of
the mean, and AdaptiveLog's vote statistic: the share of passes whose argmax is the majority label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch


@dataclass
class McPrediction:
    """Per item: the label, mean probabilities over passes, entropy (nats) and vote share."""

    labels: list[str]  # predicted label per item
    probs: np.ndarray  # (items, classes) mean probabilities
    entropy: np.ndarray  # (items,) predictive entropy of the mean, in nats
    vote: np.ndarray  # (items,) share of passes agreeing with the majority label, in [1/passes, 1]

    def uncertainty(self, statistic: str = "entropy") -> np.ndarray:
        """One score per item, higher = less sure: normalised entropy (0..1) or 1 - vote."""
        if statistic == "vote":
            return 1.0 - self.vote
        if statistic != "entropy":
            raise ValueError(f"unknown uncertainty statistic {statistic!r} (entropy or vote)")
        classes = self.probs.shape[1]
        return self.entropy / math.log(classes) if classes > 1 else np.zeros_like(self.entropy)


def allowed_mask(classes: Sequence[str], allowed: Sequence[Sequence[str] | None]) -> torch.Tensor:
    """(items, classes) additive logit mask: item i may only take labels in `allowed[i]`; labels the model
    does not know are ignored, and a set with none it knows (or None) leaves the item unrestricted."""
    mask = torch.zeros(len(allowed), len(classes), dtype=torch.float32)
    for row, labels in enumerate(allowed):
        known = [i for i, c in enumerate(classes) if c in (labels or ())]
        if known:
            mask[row] = float("-inf")
            mask[row, known] = 0.0
    return mask


def summarise(sample_probs: torch.Tensor, classes: list[str]) -> McPrediction:
    """`sample_probs` is (passes, items, classes)."""
    mean = sample_probs.mean(0)
    entropy = -(mean * mean.clamp_min(1e-12).log()).sum(-1)
    votes = sample_probs.argmax(-1)  # (passes, items)
    majority = torch.mode(votes, dim=0).values
    vote = (votes == majority.unsqueeze(0)).float().mean(0)
    best = mean.argmax(-1)
    return McPrediction([classes[int(i)] for i in best], mean.numpy(), entropy.numpy(), vote.numpy())


def deterministic(probs: torch.Tensor, classes: list[str]) -> McPrediction:
    """One deterministic pass as an `McPrediction`: its probabilities, their entropy, a unanimous vote."""
    return summarise(probs.unsqueeze(0), classes)


def merge(base: McPrediction, rows: np.ndarray, sampled: McPrediction) -> McPrediction:
    """`base` with the items at `rows` replaced by `sampled` (a prediction of those items only)."""
    labels = list(base.labels)
    for row, label in zip(rows, sampled.labels, strict=True):
        labels[int(row)] = label
    probs, entropy, vote = base.probs.copy(), base.entropy.copy(), base.vote.copy()
    probs[rows], entropy[rows], vote[rows] = sampled.probs, sampled.entropy, sampled.vote
    return McPrediction(labels, probs, entropy, vote)


class SmallModel(Protocol):
    """What the router needs of a small model: `SlmClassifier` (fine-tuned) and `HeadClassifier` (default)."""

    @property
    def labels_(self) -> list[str]: ...

    def predict(self, texts: Sequence[str]) -> list[str]: ...

    def predict_mc(self, texts: Sequence[str], passes: int | None = None,
                   allowed: Sequence[Sequence[str] | None] | None = None,
                   screen: float | None = None) -> McPrediction: ...
