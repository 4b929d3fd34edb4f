"""Session-level detectors on event-count vectors, scikit-learn style: plain constructor parameters,
`fit(sequences, y=None)`, `score_samples(sequences)` (higher = more anomalous), `predict(sequences)` (1 = anomaly);
see `logai.detect.base`.

- `PCADetector`: the normal subspace of the count matrix; a session's squared prediction error (SPE) above
  the Q-statistic threshold (Jackson & Mudholkar, alpha) is anomalous (Xu et al., SOSP'09).
- `IsolationForestDetector`: isolation depth on count vectors; fit it on unlabelled traffic that may hold
  anomalies (it splits only within the ranges it has seen, so it cannot flag what normal-only data lacks).
- `InvariantsMiningDetector`: linear invariants (near-null-space vectors of the normal count matrix, e.g.
  count(open) = count(close)); a session violating any is anomalous (Lou et al., ATC'10).
- `SupervisedDetector`: logistic regression or gradient boosting on (TF-IDF) counts, trained on labels.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import stats
from sklearn.ensemble import GradientBoostingClassifier, IsolationForest
from sklearn.linear_model import LogisticRegression

from logai.detect.base import SessionDetector
from logai.detect.features import UNSEEN, EventCounter


def _empty_safe(score):
    """An empty batch of sessions scores as an empty array (scikit-learn models refuse zero rows)."""

    @functools.wraps(score)
    def wrapper(self, sequences):
        return np.zeros(0) if not len(sequences) else score(self, sequences)

    return wrapper


class _CountDetector(SessionDetector):
    tf_idf = False

    def _features(self, sequences, fit: bool = False) -> np.ndarray:
        if fit:
            self.counter_ = EventCounter(tf_idf=self.tf_idf).fit(sequences)
        return self.counter_.transform(sequences)


class PCADetector(_CountDetector):
    def __init__(self, variance: float = 0.95, alpha: float = 0.001, tf_idf: bool = True):
        self.variance = variance
        self.alpha = alpha
        self.tf_idf = tf_idf

    def fit(self, sequences, y=None) -> PCADetector:
        x = self._features(sequences, fit=True)
        self.mean_ = x.mean(axis=0)
        centered = x - self.mean_
        _, singular, vt = np.linalg.svd(centered, full_matrices=False)
        eigen = singular**2 / max(1, len(x) - 1)
        total = eigen.sum()  # zero when every training session is alike: then any deviation is residual
        k = int(np.searchsorted(np.cumsum(eigen) / total, self.variance) + 1) if total > 1e-12 else 0
        self.components_ = vt[:k]
        residual = eigen[k:]
        phi = [float(np.sum(residual**i)) for i in (1, 2, 3)]
        if phi[0] <= 0:
            self.threshold_ = 1e-9
            return self
        h0 = 1.0 - 2.0 * phi[0] * phi[2] / (3.0 * phi[1] ** 2)
        c = stats.norm.ppf(1 - self.alpha)
        self.threshold_ = phi[0] * (c * np.sqrt(2 * phi[1] * h0**2) / phi[0] + 1
                                    + phi[1] * h0 * (h0 - 1) / phi[0] ** 2) ** (1.0 / h0)
        return self

    @_empty_safe
    def score_samples(self, sequences) -> np.ndarray:
        centered = self._features(sequences) - self.mean_
        projected = centered @ self.components_.T @ self.components_
        return np.sum((centered - projected) ** 2, axis=1)


class IsolationForestDetector(_CountDetector):
    def __init__(self, n_estimators: int = 200, contamination: float = 0.01, random_state: int = 0):
        self.n_estimators = n_estimators
        self.contamination = contamination
        self.random_state = random_state

    def fit(self, sequences, y=None) -> IsolationForestDetector:
        self.forest_ = IsolationForest(n_estimators=self.n_estimators, contamination=self.contamination,
                                       random_state=self.random_state).fit(self._features(sequences, fit=True))
        self.threshold_ = -float(self.forest_.offset_)
        return self

    @_empty_safe
    def score_samples(self, sequences) -> np.ndarray:
        return -self.forest_.score_samples(self._features(sequences))


class InvariantsMiningDetector(_CountDetector):
    """Invariants = right-singular vectors of the normal count matrix whose singular value is ~0, restricted to
    events that co-occur; a session's score is how many invariants it breaks."""

    def __init__(self, tolerance: float = 1e-3, min_support: float = 0.9):
        self.tolerance = tolerance
        self.min_support = min_support

    def fit(self, sequences, y=None) -> InvariantsMiningDetector:
        x = self._features(sequences, fit=True)
        active = np.where((x > 0).mean(axis=0) > 0)[0]
        _, singular, vt = np.linalg.svd(x[:, active], full_matrices=True)
        padded = np.zeros(len(active))
        padded[: len(singular)] = singular
        null = vt[padded <= self.tolerance * max(padded.max(), 1e-12)]
        invariants = []
        for vector in null:
            full = np.zeros(x.shape[1])
            full[active] = vector
            if np.mean(np.abs(x @ full) < 1e-6) >= self.min_support:  # holds on (nearly) every normal session
                invariants.append(full)
        self.invariants_ = np.array(invariants).reshape(-1, x.shape[1])
        self.threshold_ = 0.5
        return self

    @_empty_safe
    def score_samples(self, sequences) -> np.ndarray:
        """Invariants broken, plus templates never seen in training (they break the unknown invariant
        `count(unseen) = 0`)."""
        x = self._features(sequences)
        unseen = (x[:, self.counter_.vocabulary_[UNSEEN]] > 0).astype(float)
        if not len(self.invariants_):
            return unseen
        return np.sum(np.abs(x @ self.invariants_.T) > 1e-6, axis=1) + unseen


class SupervisedDetector(_CountDetector):
    def __init__(self, model: str = "logistic", tf_idf: bool = True, threshold: float = 0.5, random_state: int = 0):
        self.model = model
        self.tf_idf = tf_idf
        self.threshold = threshold
        self.random_state = random_state

    def fit(self, sequences, y) -> SupervisedDetector:
        x = self._features(sequences, fit=True)
        if self.model == "logistic":
            self.clf_ = LogisticRegression(max_iter=2000, class_weight="balanced", random_state=self.random_state)
        elif self.model == "gbdt":
            self.clf_ = GradientBoostingClassifier(random_state=self.random_state)
        else:
            raise ValueError(f"unknown model {self.model!r}: logistic or gbdt")
        self.clf_.fit(x, np.asarray(y))
        self.threshold_ = self.threshold
        return self

    @_empty_safe
    def score_samples(self, sequences) -> np.ndarray:
        return self.clf_.predict_proba(self._features(sequences))[:, 1]
