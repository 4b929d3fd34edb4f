"""`PairModel`: which candidate (concept, instance) pairs a message states, learned from annotations.

A logistic regression over the features of `logai.semantics.pairs`, scikit-learn style: `fit` on token
lists with gold pair indexes, `predict` pairs for new token lists. The fitted model is saved as plain
JSON (feature names and weights; a few KB), so it ships with logai and loads without scikit-learn.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import orjson

from logai.semantics.pairs import PUNCT, STOPWORDS, candidates, features, shape
from logai.semantics.types import value_type

MODEL_VERSION = 1


class PairModel:  # no sklearn BaseEstimator: `logai parse` loads it without importing scikit-learn
    def __init__(self, threshold: float = 0.5, C: float = 1.0, seed: int = 13):
        self.threshold = threshold
        self.C = C
        self.seed = seed
        self.weights_: dict[str, float] | None = None
        self.bias_: float = 0.0
        # token -> the summed weight of its concept-only / instance-only features (bounded; `fit` empties them)
        self._concept_weight = lru_cache(maxsize=65_536)(self._concept_features_weight)
        self._instance_weight = lru_cache(maxsize=65_536)(self._instance_features_weight)

    # -- training ------------------------------------------------------------------------------------
    def fit(self, messages: list[list[str]], gold: list[set[tuple[int, int]]]) -> PairModel:
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression

        rows, labels = [], []
        for tokens, pairs in zip(messages, gold, strict=True):
            for ci, ii, rel in candidates(tokens):
                rows.append(features(tokens, ci, ii, rel))
                labels.append(int((ci, ii) in pairs))
        vectorizer = DictVectorizer()
        X = vectorizer.fit_transform(rows)
        clf = LogisticRegression(C=self.C, max_iter=2000, random_state=self.seed)
        clf.fit(X, labels)
        self.weights_ = {name: float(w) for name, w in zip(vectorizer.feature_names_, clf.coef_[0], strict=True)
                         if w != 0.0}
        self.bias_ = float(clf.intercept_[0])
        self._concept_weight.cache_clear()  # scored with the old weights
        self._instance_weight.cache_clear()
        return self

    # -- inference -----------------------------------------------------------------------------------
    def pair_probability(self, feats: dict[str, float | str]) -> float:
        if self.weights_ is None:
            raise RuntimeError("PairModel is not fitted: call fit() or PairModel.load()")
        total = self.bias_
        for key, value in feats.items():
            if isinstance(value, str):
                total += self.weights_.get(f"{key}={value}", 0.0)
            else:
                total += self.weights_.get(key, 0.0) * value
        return 1.0 / (1.0 + math.exp(-total))

    def predict(self, tokens: list[str]) -> list[tuple[int, int]]:
        """(concept index, instance index) pairs, best first; each token used at most once."""
        scored = sorted(((self._probability(tokens, ci, ii, rel), ci, ii) for ci, ii, rel in candidates(tokens)),
                        reverse=True)
        used: set[int] = set()
        out = []
        for p, ci, ii in scored:
            if p < self.threshold:
                break
            if ci in used or ii in used:
                continue
            used.update((ci, ii))
            out.append((ci, ii))
        return sorted(out, key=lambda pair: pair[1])

    def _probability(self, tokens: list[str], ci: int, ii: int, relation: str) -> float:
        """`pair_probability(features(...))`, summed by parts: what depends on the concept token alone, on the
        instance token alone (each cached by token), and the few features of the pair and its context. A
        message's candidates share their tokens, so this is several times cheaper than building each dict."""
        weights = self.weights_
        if weights is None:
            raise RuntimeError("PairModel is not fitted: call fit() or PairModel.load()")
        get = weights.get
        concept, instance = tokens[ci], tokens[ii]
        c_shape, v_shape, v_type = shape(concept), shape(instance), value_type(instance)
        before = tokens[min(ci, ii) - 1] if min(ci, ii) >= 1 else "<s>"
        after = tokens[max(ci, ii) + 1] if max(ci, ii) + 1 < len(tokens) else "</s>"
        total = (self.bias_ + self._concept_weight(concept) + self._instance_weight(instance)
                 + get("rel=" + relation, 0.0)
                 + get(f"rel_v_type={relation}|{v_type}", 0.0)
                 + get(f"rel_c_shape={relation}|{c_shape}", 0.0)
                 + get(f"shapes={c_shape}|{v_shape}", 0.0)
                 + get("before=" + (before if before == "<s>" or PUNCT.match(before) else shape(before)), 0.0)
                 + get("after=" + (after if after == "</s>" or PUNCT.match(after) else shape(after)), 0.0))
        return 1.0 / (1.0 + math.exp(-total))

    def _concept_features_weight(self, token: str) -> float:
        get = (self.weights_ or {}).get
        low = token.lower()
        return (get("c_shape=" + shape(token), 0.0) + get("c_word=" + low, 0.0)
                + get("c_suffix2=" + low[-2:], 0.0) + get("c_suffix3=" + low[-3:], 0.0)
                + get("c_stop", 0.0) * float(low in STOPWORDS)
                + get("c_len", 0.0) * (float(min(len(token), 20)) / 20)
                + get("c_digits", 0.0) * float(any(c.isdigit() for c in token)))

    def _instance_features_weight(self, token: str) -> float:
        get = (self.weights_ or {}).get
        return (get("v_shape=" + shape(token), 0.0) + get("v_type=" + value_type(token), 0.0)
                + get("v_stop", 0.0) * float(token.lower() in STOPWORDS)
                + get("v_len", 0.0) * (float(min(len(token), 40)) / 40)
                + get("v_digits", 0.0) * float(any(c.isdigit() for c in token)))

    # -- persistence ---------------------------------------------------------------------------------
    def save(self, path: Path, manifest: dict | None = None) -> None:
        if self.weights_ is None:
            raise RuntimeError("nothing to save: the model is not fitted")
        blob = {"kind": "logai-pair-model", "version": MODEL_VERSION, "threshold": self.threshold,
                "C": self.C, "seed": self.seed, "bias": self.bias_, "weights": dict(sorted(self.weights_.items())),
                "manifest": manifest or {}}
        path.write_bytes(orjson.dumps(blob, option=orjson.OPT_INDENT_2))

    @classmethod
    def load(cls, path: Path) -> PairModel:
        blob = orjson.loads(path.read_bytes())
        if blob.get("kind") != "logai-pair-model" or blob.get("version") != MODEL_VERSION:
            raise ValueError(f"{path}: not a logai pair model of version {MODEL_VERSION}")
        model = cls(threshold=blob["threshold"], C=blob["C"], seed=blob["seed"])
        model.weights_ = {k: float(v) for k, v in blob["weights"].items()}
        model.bias_ = float(blob["bias"])
        return model

