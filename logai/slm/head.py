"""`HeadClassifier`: a small MLP over the frozen MiniLM sentence embedding of an event and its level.

The default router's small model. The encoder is the packaged all-MiniLM-L6-v2, never trained, so the
artifact is the head and the distinct training inputs it was fitted on (a few MB), and learning from an
operator is a re-fit of the head in about a second, not a fine-tuning run. An input is `"LEVEL\\ttext"`
(`slm.inputs.leveled_text`): the level becomes a one-hot feature beside the embedding, the text is embedded
once (LRU cache: a template's lines share a vector).

Near-duplicates: an input whose text embedding is within `neighbour_sim` (cosine) of a training input with
the same level answers with that input's label, sure (probability 1, no uncertainty). Labelled messages
that recur (LogEval repeats one BGL message 60 times) are then answered as labelled instead of through the
MLP's smoothing, which let one word of them ("interrupt") pull unrelated lines along; lines of a system it
never saw rarely come that close to a training input (measured: no change in any leave-one-system-out row).

MC dropout: the passes drop features of the embedding and of the hidden layer (one batched forward of the
head per pass), the cheap form of dropout at the encoder's output; the statistic is the same as the
fine-tuned model's (`slm.uncertainty`). scikit-learn style: parameters in `__init__`, `fit` / `predict` /
`predict_proba` / `predict_mc`, fitted attributes end in `_`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin

from logai.calibration import fit_temperature
from logai.checksums import hashes, verify
from logai.slm.inputs import LEVEL_FEATURES, split_leveled
from logai.slm.uncertainty import McPrediction, allowed_mask, summarise

if TYPE_CHECKING:
    from logai.slm.embeddings import Embedder

WEIGHTS, MANIFEST = "head.safetensors", "head.json"
# the cosine at which a training input's own label answers, as the routers logai trains use it: chosen on an
# item-level 3-fold split of the LogEval anomaly items (LogEval's own 70/30 split is by item) among 0.8,
# 0.85, 0.9 and 0.95 (F1 0.949 without the rule, 0.964 at 0.85)
NEIGHBOUR_SIM = 0.85


class _Mlp(torch.nn.Module):
    def __init__(self, features: int, hidden: int, classes: int, dropout: float, input_dropout: float):
        super().__init__()
        self.input_dropout = torch.nn.Dropout(input_dropout)
        # float32 whatever torch's default: a model loading in another thread (transformers sets the process's
        # default dtype to the one it loads in, bfloat16 for the LLM) would otherwise make these bfloat16
        self.hidden = torch.nn.Linear(features, hidden, dtype=torch.float32)
        self.dropout = torch.nn.Dropout(dropout)
        self.out = torch.nn.Linear(hidden, classes, dtype=torch.float32)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(torch.relu(self.hidden(self.input_dropout(x)))))


class HeadClassifier(ClassifierMixin, BaseEstimator):
    input_kind = "level_text"  # what `AdaptiveRouter` feeds it: `leveled_text(event)`
    # unit vectors of the training and remembered inputs, their levels, labels and weights, built on first use
    _memory: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None

    def __init__(self, hidden: int = 128, dropout: float = 0.2, input_dropout: float = 0.1, epochs: int = 40,
                 lr: float = 3e-3, weight_decay: float = 1e-4, batch_size: int = 256, mc_passes: int = 20,
                 class_weight: str | None = "balanced", seed: int = 0, neighbour_sim: float | None = None,
                 embedder: Embedder | None = None):
        self.hidden = hidden
        self.dropout = dropout
        self.input_dropout = input_dropout
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.mc_passes = mc_passes
        self.class_weight = class_weight
        self.seed = seed
        self.neighbour_sim = neighbour_sim  # None: every answer is the MLP's
        self.embedder = embedder  # a `SentenceEmbedder`; the packaged MiniLM when None

    # -- features ---------------------------------------------------------------------------------------
    def encoder(self) -> Embedder:
        """The embedder in use (the packaged MiniLM, loaded on first use, unless one was given)."""
        if self.embedder is None:
            from logai.slm.embeddings import shared_embedder

            self.embedder = shared_embedder()
        return self.embedder

    def features(self, inputs: Sequence[str]) -> np.ndarray:
        """(items, 384 + levels) float32: the text's embedding, then the level one-hot."""
        levels, texts = zip(*(split_leveled(x) for x in inputs), strict=True) if inputs else ((), ())
        onehot = np.zeros((len(inputs), len(LEVEL_FEATURES)), dtype=np.float32)
        for row, level in enumerate(levels):
            onehot[row, LEVEL_FEATURES.index(level) if level in LEVEL_FEATURES else 0] = 1.0
        if not inputs:
            return np.zeros((0, self.encoder().dim + len(LEVEL_FEATURES)), dtype=np.float32)
        return np.hstack([self.encoder().encode(list(texts)), onehot])

    # -- fitting ----------------------------------------------------------------------------------------
    def fit(self, X: Sequence[str], y: Sequence[str], sample_weight: Sequence[float] | None = None,
            dev_X: Sequence[str] | None = None, dev_y: Sequence[str] | None = None) -> HeadClassifier:
        """Fit on inputs `X` (`leveled_text` strings); a dev split calibrates the temperature."""
        if len(X) != len(y) or not len(X):
            raise ValueError("fit needs as many labels as inputs, and at least one of each")
        self.classes_ = np.array(sorted(set(y)))
        self._memory = None
        self.train_features_ = self.features(X).astype(np.float16)  # kept: feedback re-fits on them
        self.train_labels_ = np.array([list(self.classes_).index(label) for label in y], dtype=np.int64)
        self.train_weights_ = np.asarray(sample_weight if sample_weight is not None else np.ones(len(X)),
                                         dtype=np.float32)
        self.remembered_ = (self.train_features_[:0], self.train_labels_[:0])  # nothing corrected yet
        with torch.random.fork_rng(devices=[]):  # the initial weights come from the seed too
            torch.manual_seed(self.seed)
            self.model_ = _Mlp(self.train_features_.shape[1], self.hidden, len(self.classes_), self.dropout,
                               self.input_dropout)
        self._train(self.train_features_, self.train_labels_, self.train_weights_, self.epochs)
        self.temperature_ = 1.0
        if dev_X is not None and dev_y is not None and len(dev_X):
            known = [i for i, label in enumerate(dev_y) if label in self.classes_]
            if known:
                logits = self._logits(self.features([dev_X[i] for i in known]))
                gold = torch.tensor([list(self.classes_).index(dev_y[i]) for i in known])
                self.temperature_ = fit_temperature(logits, gold, bounds=(0.25, 20.0))
        return self

    def refit(self, X: Sequence[str], y: Sequence[str], weight: float = 1.0, epochs: int = 8,
              lr_scale: float = 0.1) -> HeadClassifier:
        """Nudge the current weights (`epochs` at `lr_scale` times the training rate) on the kept training
        inputs plus `X` (an operator's corrections, each weighing `weight` times the median training input):
        the cheap update behind `/v1/feedback`. Labels outside `classes_` are ignored; the temperature is
        kept. Corrections once weighed 20 times the heaviest input at the full rate: ten of them turned 8% of
        an unseen system's normal lines abnormal (0.4% now); their near-duplicates follow them exactly
        through `remember` instead."""
        self._check_fitted()
        keep = [i for i, label in enumerate(y) if label in self.classes_]
        features = self.train_features_
        labels, weights = self.train_labels_, self.train_weights_
        if keep:
            extra = self.features([X[i] for i in keep]).astype(np.float16)
            features = np.vstack([features, extra])
            labels = np.concatenate([labels, [list(self.classes_).index(y[i]) for i in keep]])
            weights = np.concatenate([weights, np.full(len(keep), weight * float(np.median(weights)), np.float32)])
        self._train(features, labels, weights, epochs, self.lr * lr_scale)
        return self

    def remember(self, X: Sequence[str], y: Sequence[str]) -> HeadClassifier:
        """Inputs whose near-duplicates (`neighbour_sim`) answer with these labels, ahead of any training input
        as close: an operator's corrections. Replaces what was remembered before; labels outside `classes_`
        are ignored."""
        self._check_fitted()
        keep = [i for i, label in enumerate(y) if label in self.classes_]
        self.remembered_ = (self.features([X[i] for i in keep]).astype(np.float16),
                            np.array([list(self.classes_).index(y[i]) for i in keep], dtype=np.int64))
        self._memory = None
        return self

    def _train(self, features: np.ndarray, labels: np.ndarray, weights: np.ndarray, epochs: int,
               lr: float | None = None) -> None:
        torch.manual_seed(self.seed)
        x = torch.from_numpy(features.astype(np.float32))
        y = torch.from_numpy(labels)
        w = torch.from_numpy(weights.astype(np.float32))
        class_weight = None
        if self.class_weight == "balanced":
            totals = torch.zeros(len(self.classes_), dtype=torch.float32).index_add_(0, y, w)
            class_weight = totals.sum() / (len(self.classes_) * totals.clamp_min(1e-6))
        optimizer = torch.optim.AdamW(self.model_.parameters(), lr=self.lr if lr is None else lr,
                                      weight_decay=self.weight_decay)
        generator = torch.Generator().manual_seed(self.seed)
        self.model_.train()
        for _ in range(epochs):
            order = torch.randperm(len(y), generator=generator)
            for start in range(0, len(order), self.batch_size):
                rows = order[start:start + self.batch_size]
                loss = torch.nn.functional.cross_entropy(self.model_(x[rows]), y[rows], weight=class_weight,
                                                         reduction="none")
                loss = (loss * w[rows]).sum() / w[rows].sum()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        self.model_.eval()

    def snapshot(self) -> dict[str, torch.Tensor]:
        """A copy of the head's weights (`restore` puts them back): feedback re-fits start from the shipped ones."""
        self._check_fitted()
        return {k: v.detach().clone() for k, v in self.model_.state_dict().items()}

    def restore(self, weights: dict[str, torch.Tensor]) -> None:
        self.model_.load_state_dict(weights)
        self.model_.eval()

    # -- inference --------------------------------------------------------------------------------------
    def _logits(self, features: np.ndarray, passes: int = 0) -> torch.Tensor:
        x = torch.from_numpy(np.asarray(features, dtype=np.float32))
        with torch.no_grad():  # not inference_mode: calibration fits a temperature on these logits
            if not passes:
                return self.model_.eval()(x)
            self.model_.train()  # dropout on: every pass draws its own masks
            try:
                return self.model_(x.repeat(passes, 1)).view(passes, len(x), -1)
            finally:
                self.model_.eval()

    def predict_proba(self, X: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        features = self.features(X)
        probs = torch.softmax(self._logits(features) / self.temperature_, -1).numpy()
        rows, labels = self._neighbours(features)
        probs[rows] = np.eye(len(self.classes_), dtype=probs.dtype)[labels]
        return probs

    def _neighbours(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rows, label indices) of the inputs that are near-duplicates of a training input of the same level
        (cosine >= `neighbour_sim`) or of a remembered one; among inputs as close as the nearest (within 0.01),
        the label with the most weight wins, and a remembered input outweighs them all."""
        none = np.zeros(0, dtype=np.int64)
        if self.neighbour_sim is None or not len(features):
            return none, none
        if self._memory is None:
            known, known_labels = self.train_features_, self.train_labels_
            weights = self.train_weights_.astype(np.float64)
            remembered, said = getattr(self, "remembered_", (known[:0], known_labels[:0]))
            if len(remembered):  # a remembered input outweighs every training input as close as it
                known, known_labels = np.vstack([known, remembered]), np.concatenate([known_labels, said])
                weights = np.concatenate([weights, np.full(len(said), weights.sum() + 1.0)])
            vectors = known[:, :-len(LEVEL_FEATURES)].astype(np.float32)
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            self._memory = (vectors, known[:, -len(LEVEL_FEATURES):].argmax(1), known_labels, weights)
        vectors, levels, memory_labels, memory_weights = self._memory
        query = features[:, :-len(LEVEL_FEATURES)]
        query = query / np.maximum(np.linalg.norm(query, axis=1, keepdims=True), 1e-12)
        sims = query @ vectors.T
        sims[features[:, -len(LEVEL_FEATURES):].argmax(1)[:, None] != levels[None, :]] = -1.0
        best = sims.max(1)
        rows = np.flatnonzero(best >= self.neighbour_sim)
        labels = np.empty(len(rows), dtype=np.int64)
        for i, row in enumerate(rows):
            close = sims[row] >= best[row] - 0.01
            labels[i] = np.bincount(memory_labels[close], memory_weights[close],
                                    minlength=len(self.classes_)).argmax()
        return rows, labels

    def predict(self, X: Sequence[str]) -> list[str]:
        return [str(self.classes_[i]) for i in self.predict_proba(X).argmax(1)]

    def predict_mc(self, X: Sequence[str], passes: int | None = None,
                   allowed: Sequence[Sequence[str] | None] | None = None,
                   screen: float | None = None) -> McPrediction:
        """Mean probabilities, entropy and vote share over `passes` dropout samples of the head.
        `allowed[i]` restricts item i to some labels, as `SlmClassifier.predict_mc` does. `screen` is
        accepted and not needed: the encoder runs once per text either way, and the passes are the head's."""
        self._check_fitted()
        features = self.features(X)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            logits = self._logits(features, passes or self.mc_passes) / self.temperature_
        mask = allowed_mask(self.labels_, allowed) if allowed is not None else None
        if mask is not None:
            logits = logits + mask.unsqueeze(0)
        probs = torch.softmax(logits, -1)
        rows, labels = self._neighbours(features)
        if mask is not None:  # a neighbour's label outside an item's allowed set does not answer it
            keep = (mask[torch.from_numpy(rows), torch.from_numpy(labels)] == 0).numpy()
            rows, labels = rows[keep], labels[keep]
        probs[:, torch.from_numpy(rows)] = torch.eye(len(self.classes_), dtype=probs.dtype)[torch.from_numpy(labels)]
        return summarise(probs, self.labels_)

    @property
    def labels_(self) -> list[str]:
        """The label set, as the router reads it from every small model."""
        return [str(c) for c in self.classes_]

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError("this HeadClassifier is not fitted: call fit() or HeadClassifier.load()")

    # -- persistence ------------------------------------------------------------------------------------
    def save(self, path: str | Path, **manifest: Any) -> Path:
        """Weights and kept training inputs (safetensors), labels, temperature and a manifest (`head.json`)."""
        from safetensors.torch import save_file

        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        tensors = {f"model.{k}": v.contiguous() for k, v in self.model_.state_dict().items()}
        tensors.update(train_features=torch.from_numpy(self.train_features_),
                       train_labels=torch.from_numpy(self.train_labels_),
                       train_weights=torch.from_numpy(self.train_weights_))
        save_file(tensors, str(path / WEIGHTS))
        params = {k: v for k, v in self.get_params().items() if k != "embedder"}
        record = {"kind": "head", "labels": self.labels_, "temperature": self.temperature_, "params": params,
                  "levels": list(LEVEL_FEATURES), "files": hashes(path, [WEIGHTS]), **manifest}
        (path / MANIFEST).write_text(json.dumps(record, indent=2, default=str))
        return path

    @classmethod
    def load(cls, path: str | Path, embedder: Embedder | None = None) -> HeadClassifier:
        """A saved head; ValueError when its files do not fit together."""
        from safetensors.torch import load_file

        from logai.paths import read_manifest

        path = Path(path)
        record = read_manifest(path, MANIFEST, "saved head classifier")
        if record.get("levels") != list(LEVEL_FEATURES):
            raise ValueError(f"{path}: saved with level features {record.get('levels')}, this logai uses "
                             f"{list(LEVEL_FEATURES)}")
        try:
            verify(path, record["files"])  # before a byte of the weights is parsed
        except (KeyError, TypeError) as exc:
            raise ValueError(f"{path}/{MANIFEST} lists no file hashes: save the head again") from exc
        self = cls(embedder=embedder, **record["params"])
        self.manifest_ = record
        self.classes_ = np.array(record["labels"])
        self.temperature_ = float(record["temperature"])
        try:
            tensors = load_file(str(path / WEIGHTS))
        except Exception as exc:  # safetensors raises its own error types
            raise ValueError(f"{path}/{WEIGHTS} is not a readable safetensors file: {exc}") from exc
        self.train_features_ = tensors["train_features"].numpy()
        self.train_labels_ = tensors["train_labels"].numpy()
        self.train_weights_ = tensors["train_weights"].numpy()
        self.model_ = _Mlp(self.train_features_.shape[1], self.hidden, len(self.classes_), self.dropout,
                           self.input_dropout)
        state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
        try:
            self.model_.load_state_dict(state)
        except RuntimeError as exc:
            raise ValueError(f"{path}: the head's weights do not match its manifest: {exc}") from exc
        self.model_.eval()
        return self
