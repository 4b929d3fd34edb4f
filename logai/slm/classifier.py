"""`SlmClassifier`: all-MiniLM-L6-v2 with a sequence-classification head, fine-tuned on one task.

scikit-learn style: parameters in `__init__`, `fit(texts, labels, dev_texts, dev_labels)` learns
`labels_`, `model_`, `temperature_` and `history_`; `predict_proba` / `predict` are deterministic;
`predict_mc` runs MC dropout (N passes as one batched forward) for the router. Training is seeded, uses bf16
autocast where the CPU has native bf16, weights classes by inverse frequency (anomaly labels are rare) and
stops early on the dev split's macro-F1. `save` / `load` keep the weights with the label set, the
temperature and a training manifest.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator

from logai import __version__
from logai.calibration import fit_temperature
from logai.devices import loading_weights, pick_device, pick_dtype
from logai.paths import read_manifest
from logai.scores import macro_f1
from logai.slm.uncertainty import McPrediction, allowed_mask, deterministic, merge, summarise

log = logging.getLogger(__name__)
MANIFEST = "slm.json"
RUNTIME_PARAMS = frozenset({"model_dir", "device", "autocast", "progress"})  # where it ran, not what it learnt


class SlmClassifier(BaseEstimator):
    def __init__(self, model_dir: str | Path | None = None, *, max_length: int = 128, epochs: int = 10,
                 batch_size: int = 32, lr: float = 1e-4, weight_decay: float = 0.01, patience: int = 3,
                 min_epochs: int = 3,
                 mc_passes: int = 10, class_weight: str | None = "balanced", seed: int = 0,
                 device: str | None = None, autocast: bool | None = None, progress: bool = False):
        self.model_dir = model_dir
        self.max_length = max_length
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.min_epochs = min_epochs
        self.mc_passes = mc_passes
        self.class_weight = class_weight
        self.seed = seed
        self.device = device
        self.autocast = autocast
        self.progress = progress

    # -- fitting ---------------------------------------------------------------------------------------
    def fit(self, texts: Sequence[str], labels: Sequence[str], dev_texts: Sequence[str] | None = None,
            dev_labels: Sequence[str] | None = None, sample_weight: Sequence[float] | None = None
            ) -> SlmClassifier:
        """`sample_weight` counts an example several times (e.g. how often a distinct line occurs)."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from logai.slm.embeddings import packaged_minilm

        if len(texts) != len(labels) or not texts:
            raise ValueError("fit needs as many labels as texts, and at least one of each")
        self._seed()
        source = Path(self.model_dir) if self.model_dir else packaged_minilm()
        self.labels_ = sorted(set(labels))
        index = {label: i for i, label in enumerate(self.labels_)}
        self.device_ = pick_device(self.device)
        with loading_weights():
            self.tokenizer_ = AutoTokenizer.from_pretrained(source)
            self.model_ = AutoModelForSequenceClassification.from_pretrained(
                source, num_labels=len(self.labels_), id2label=dict(enumerate(self.labels_)), label2id=index,
            ).to(self.device_)
        y = torch.tensor([index[label] for label in labels])
        sample = torch.tensor(sample_weight if sample_weight is not None else [1.0] * len(texts),
                              dtype=torch.float32)
        weights = self._class_weights(labels, sample)
        optimizer = torch.optim.AdamW(self.model_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        steps = self.epochs * math.ceil(len(texts) / self.batch_size)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: max(0.0, 1 - s / max(1, steps)))
        generator = torch.Generator().manual_seed(self.seed)
        self.history_: list[dict[str, float]] = []
        best, best_state, waited = -1.0, None, 0
        started = time.perf_counter()
        for epoch in range(self.epochs):
            self.model_.train()
            order = torch.randperm(len(texts), generator=generator).tolist()
            total = 0.0
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                batch = self._encode([texts[i] for i in rows])
                with self._autocast():
                    logits = self.model_(**batch).logits.float()
                per_item = torch.nn.functional.cross_entropy(logits, y[rows].to(self.device_), weight=weights,
                                                             reduction="none")
                w = sample[rows].to(self.device_)
                loss = (per_item * w).sum() / w.sum()
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.model_.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                total += loss.item() * len(rows)
            record = {"epoch": epoch + 1, "loss": total / len(texts)}
            if dev_texts:
                record["dev_macro_f1"] = macro_f1(list(dev_labels or []), self._plain_predict(dev_texts))
                # Selection starts at `min_epochs`, and ties go to the later epoch: with a rare class whose few
                # dev examples look like none in train, dev macro-F1 is flat or noisy early on, and keeping the
                # first epoch would keep a model that never fit that class at all.
                if epoch + 1 < self.min_epochs:
                    pass
                elif record["dev_macro_f1"] >= best - 1e-9:
                    waited = 0 if record["dev_macro_f1"] > best + 1e-9 else waited + 1
                    best = record["dev_macro_f1"]
                    best_state = {k: v.detach().clone() for k, v in self.model_.state_dict().items()}
                else:
                    waited += 1
            self.history_.append(record)
            log.info("slm epoch %d: %s", epoch + 1, record)
            if dev_texts and waited >= self.patience:
                break
        if best_state is not None:
            self.model_.load_state_dict(best_state)
        self.train_seconds_ = time.perf_counter() - started
        self.temperature_ = 1.0
        if dev_texts:
            gold = torch.tensor([index.get(label, -100) for label in dev_labels or []])
            keep = gold >= 0
            if bool(keep.any()):
                # floor 0.25: a dev split the model gets all right pushes T to 0, which would flatten every
                # entropy to zero and leave MC dropout nothing to rank by
                self.temperature_ = fit_temperature(self._logits(dev_texts)[keep], gold[keep], bounds=(0.25, 20.0))
        self.model_.eval()
        return self

    def _seed(self) -> None:
        random.seed(self.seed)
        np.random.seed(self.seed)
        torch.manual_seed(self.seed)

    def _class_weights(self, labels: Sequence[str], sample: torch.Tensor) -> torch.Tensor | None:
        if self.class_weight != "balanced":
            return None
        counts: Counter[str] = Counter()
        for label, weight in zip(labels, sample.tolist(), strict=True):
            counts[label] += weight
        total = sum(counts.values())
        weights = [total / (len(counts) * counts[label]) for label in self.labels_]
        return torch.tensor(weights, dtype=torch.float32, device=self.device_)

    def _autocast(self):
        use = self.autocast if self.autocast is not None else pick_dtype(self.device_) == torch.bfloat16
        return torch.autocast(self.device_.type, dtype=torch.bfloat16) if use else nullcontext()

    def _encode(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer_(list(texts), padding=True, truncation=True, max_length=self.max_length,
                                return_tensors="pt")
        return {k: v.to(self.device_) for k, v in batch.items()}

    # -- inference -------------------------------------------------------------------------------------
    def _logits(self, texts: Sequence[str], passes: int = 0) -> torch.Tensor:
        """(items, classes) logits in eval mode, or (passes, items, classes) with dropout on. Texts go through
        in order of length (a batch pads to its longest) and come back in the order given."""
        self._check_fitted()
        if not texts:
            return torch.zeros((passes, 0, len(self.labels_)) if passes else (0, len(self.labels_)))
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        chunk = self.batch_size * 2 if passes == 0 else max(1, (self.batch_size * 4) // passes)
        out = []
        self.model_.train(passes > 0)
        try:
            with torch.inference_mode(), self._autocast():
                for start in range(0, len(order), chunk):
                    batch = self._encode([texts[i] for i in order[start : start + chunk]])
                    if passes:  # one forward over every pass: dropout draws a fresh mask per row
                        batch = {k: v.repeat(passes, 1) for k, v in batch.items()}
                    logits = self.model_(**batch).logits.float().cpu()
                    out.append(logits.view(passes, -1, logits.shape[-1]) if passes else logits)
        finally:
            self.model_.eval()
        by_length = torch.cat(out, dim=1 if passes else 0)
        unsorted = torch.empty_like(by_length)
        unsorted[..., order, :] = by_length
        return unsorted

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Temperature-scaled class probabilities, columns in `labels_` order."""
        return torch.softmax(self._logits(texts) / self.temperature_, -1).numpy()

    def predict(self, texts: Sequence[str]) -> list[str]:
        return self._plain_predict(texts)

    def _plain_predict(self, texts: Sequence[str]) -> list[str]:
        return [self.labels_[int(i)] for i in self._logits(texts).argmax(-1)]

    def predict_mc(self, texts: Sequence[str], passes: int | None = None,
                   allowed: Sequence[Sequence[str] | None] | None = None,
                   screen: float | None = None) -> McPrediction:
        """MC dropout: mean probabilities, entropy and vote share over `passes` (default `mc_passes`).
        `allowed[i]` restricts item i to some labels (a question that offers choices); labels this model
        does not know are ignored, and a set with none it knows leaves the item unrestricted.

        `screen`: one deterministic pass first, and the MC passes only for the items whose normalised
        entropy there is at least `screen`; the others keep the deterministic answer (vote 1). The router
        screens at a share of its threshold: an item the model is sure of without dropout is not routed with
        it, and ten passes for every item cost ten encoder forwards (measured: `bench_verdicts.py`)."""
        passes = passes or self.mc_passes
        mask = allowed_mask(self.labels_, allowed) if allowed is not None else None
        if screen is None:
            return self._sampled(texts, passes, mask)
        logits = self._logits(texts) / self.temperature_
        probs = torch.softmax(logits + mask if mask is not None else logits, -1)
        base = deterministic(probs, self.labels_)
        rows = np.flatnonzero(base.uncertainty("entropy") >= screen)
        if not len(rows):
            return base
        near = [texts[int(i)] for i in rows]
        return merge(base, rows, self._sampled(near, passes, mask[rows] if mask is not None else None))

    def _sampled(self, texts: Sequence[str], passes: int, mask: torch.Tensor | None) -> McPrediction:
        with torch.random.fork_rng(devices=[]):  # seeded dropout masks: the same batch gets the same answer
            torch.manual_seed(self.seed)
            logits = self._logits(texts, passes) / self.temperature_
        if mask is not None:
            logits = logits + mask.unsqueeze(0)
        return summarise(torch.softmax(logits, -1), self.labels_)

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise RuntimeError("this SlmClassifier is not fitted: call fit() or SlmClassifier.load()")

    # -- persistence -----------------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """The training parameters a saved model is rebuilt with (`get_params` less where it ran)."""
        return {k: v for k, v in self.get_params().items() if k not in RUNTIME_PARAMS}

    def save(self, path: str | Path, **manifest: Any) -> Path:
        """Weights, tokenizer, label set, temperature and a training manifest (extra keys: `manifest`)."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model_.save_pretrained(path)
        self.tokenizer_.save_pretrained(path)
        record = {"logai_version": __version__, "labels": self.labels_, "temperature": self.temperature_,
                  "params": self.params(), "history": self.history_,
                  "train_seconds": round(self.train_seconds_, 1), **manifest}
        (path / MANIFEST).write_text(json.dumps(record, indent=2, default=str))
        return path

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> SlmClassifier:
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        path = Path(path)
        manifest = read_manifest(path, MANIFEST, "saved small model")
        self = cls(device=device, **manifest["params"])
        self.manifest_ = manifest
        self.labels_ = list(manifest["labels"])
        self.temperature_ = float(manifest["temperature"])
        self.history_ = list(manifest.get("history", []))
        self.train_seconds_ = float(manifest.get("train_seconds", 0.0))
        self.device_ = pick_device(device)
        with loading_weights():
            self.tokenizer_ = AutoTokenizer.from_pretrained(path)
            # safetensors only: a pytorch_model.bin is a pickle
            self.model_ = AutoModelForSequenceClassification.from_pretrained(path, use_safetensors=True).to(
                self.device_).eval()
        if self.model_.config.num_labels != len(self.labels_):
            raise ValueError(f"{path}: the model has {self.model_.config.num_labels} outputs but the manifest "
                             f"lists {len(self.labels_)} labels")
        return self
