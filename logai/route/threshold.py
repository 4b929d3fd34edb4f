"""Where the small model stops answering alone: the uncertainty threshold, calibrated on the dev split.

Items with uncertainty above the threshold go to the LLM. Two ways to choose it:
- to a budget: the lowest threshold that sends at most `budget` (a share) of dev items to the LLM;
- to expected accuracy: the threshold maximising dev accuracy when routed items take the LLM's answer
  (`llm_correct`, measured on dev) or an assumed LLM accuracy, optionally within a budget.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def routed_share(uncertainty: np.ndarray, threshold: float) -> float:
    return float((uncertainty > threshold).mean()) if len(uncertainty) else 0.0


def _candidates(uncertainty: np.ndarray) -> np.ndarray:
    """Every distinct split of the items: each distinct value (route what is above it), plus 'route all'."""
    values = np.unique(uncertainty)
    return np.concatenate([[values[0] - 1e-9], values]) if len(values) else np.array([np.inf])


def threshold_for_budget(uncertainty: ArrayLike, budget: float) -> float:
    """The lowest threshold routing at most `budget` of the items."""
    u = np.asarray(uncertainty, dtype=float)
    if not 0.0 <= budget <= 1.0:
        raise ValueError("budget is a share of items, between 0 and 1")
    for t in _candidates(u):
        if routed_share(u, t) <= budget + 1e-12:
            return float(t)
    return float("inf")


def threshold_for_accuracy(uncertainty: ArrayLike, slm_correct: ArrayLike, llm_correct: ArrayLike,
                           budget: float | None = None, weights: ArrayLike | None = None) -> float:
    """The threshold with the best expected accuracy (ties: fewer LLM calls), within `budget` if given.
    `llm_correct` is per item, or one assumed accuracy of the LLM on routed items."""
    u = np.asarray(uncertainty, dtype=float)
    slm = np.asarray(slm_correct, dtype=float)
    llm = np.full_like(slm, float(llm_correct)) if isinstance(llm_correct, float) else np.asarray(llm_correct,
                                                                                                  dtype=float)
    w = np.ones_like(slm) if weights is None else np.asarray(weights, dtype=float)
    best_t, best_acc = float("inf"), float(np.average(slm, weights=w)) if len(slm) else 0.0
    for t in sorted(_candidates(u), reverse=True):  # from fewest calls to most
        routed = u > t
        if budget is not None and routed.mean() > budget + 1e-12:
            break
        acc = float(np.average(np.where(routed, llm, slm), weights=w))
        if acc > best_acc + 1e-12:
            best_t, best_acc = float(t), acc
    return best_t
