"""What every session detector is: a scikit-learn estimator over sessions (sequences of template ids or
texts) with a fitted `threshold_`.

`score_samples` gives each session's anomaly score (higher = more anomalous, unlike scikit-learn's outlier
detectors, where lower is), `decision_function` its distance past the threshold (> 0 = anomalous), and
`predict` 1 for an anomaly. Being `BaseEstimator`s, they support `get_params`/`set_params`/`clone`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
from sklearn.base import BaseEstimator


@runtime_checkable
class Detector(Protocol):
    """The interface the stream stage and the CLI use (any estimator that has it will do)."""

    threshold_: float

    def fit(self, sequences: Sequence[Sequence[Any]], y: Any = None) -> Detector: ...

    def score_samples(self, sequences: Sequence[Sequence[Any]]) -> np.ndarray: ...

    def predict(self, sequences: Sequence[Sequence[Any]]) -> np.ndarray: ...


class SessionDetector(BaseEstimator):
    """Base class: subclasses set `threshold_` in `fit` and implement `score_samples`."""

    threshold_: float
    uses_text = False  # True: sessions hold template texts, not ids

    def score_samples(self, sequences: Sequence[Sequence[Any]]) -> np.ndarray:
        raise NotImplementedError

    def decision_function(self, sequences: Sequence[Sequence[Any]]) -> np.ndarray:
        return self.score_samples(sequences) - self.threshold_

    def predict(self, sequences: Sequence[Sequence[Any]]) -> np.ndarray:
        return (self.decision_function(sequences) > 0).astype(int)
