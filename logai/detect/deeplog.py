"""DeepLog (Du et al., CCS'17): an LSTM learns which template follows the previous `window` templates in
normal sessions; a session is anomalous when a template is not among the `top_k` predicted next ones (or
was never seen in training). Semi-supervised: fitted on normal sessions only; by default `top_k` is
calibrated on held-out normal sessions to a false-positive budget instead of being guessed.

Sessions are left-padded with a start symbol and closed with an end symbol, so the first templates of a
session are checked too, and so is a session that stops where normal ones never stop.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from logai.detect.base import SessionDetector
from logai.devices import pick_device

PAD, UNSEEN, END = 0, 1, 2  # reserved ids: start padding, a template never seen in training, end of session


class _NextKey(nn.Module):
    def __init__(self, vocab: int, embed: int, hidden: int, layers: int):
        super().__init__()
        f32 = torch.float32  # not torch's default, which a model loading in another thread can change
        self.embed = nn.Embedding(vocab, embed, dtype=f32)
        self.lstm = nn.LSTM(embed, hidden, layers, batch_first=True, dtype=f32)
        self.out = nn.Linear(hidden, vocab, dtype=f32)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(self.embed(windows))
        return self.out(hidden[:, -1])


class DeepLogDetector(SessionDetector):
    def __init__(self, window: int = 10, top_k: int | None = None, hidden: int = 64, layers: int = 2,
                 embed: int = 32, epochs: int = 10, batch_size: int = 512, lr: float = 2e-3,
                 max_false_positive_rate: float = 0.01, holdout: float = 0.1, random_state: int = 0,
                 device: str | None = None):
        self.window = window
        self.top_k = top_k  # None: the smallest k that keeps held-out normal sessions' FP rate in bounds
        self.max_false_positive_rate = max_false_positive_rate
        self.holdout = holdout
        self.hidden = hidden
        self.layers = layers
        self.embed = embed
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.random_state = random_state
        self.device = device

    # the LSTM's weights are saved apart (safetensors, `logai.detect.persist`), not with the estimator's state
    def __getstate__(self) -> dict[str, object]:
        return {k: v for k, v in self.__dict__.items() if k != "model_"}

    def restore_model(self, weights: dict[str, torch.Tensor]) -> None:
        """Rebuild the fitted network from saved weights (its sizes are read off them)."""
        vocab, embed = weights["embed.weight"].shape
        self.model_ = _NextKey(vocab, embed, self.hidden, self.layers)
        self.model_.load_state_dict(weights)
        device = pick_device(self.device)
        self.model_.to(device).eval()

    def _encode(self, sequence: Sequence) -> list[int]:
        return [self.vocabulary_.get(str(t), UNSEEN) for t in sequence]

    def _windows(self, sequences: Sequence[Sequence]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(windows, next keys, session index) for every position of every session."""
        windows, targets, owners = [], [], []
        for index, sequence in enumerate(sequences):
            keys = [PAD] * self.window + self._encode(sequence) + [END]
            for position in range(self.window, len(keys)):
                windows.append(keys[position - self.window : position])
                targets.append(keys[position])
                owners.append(index)
        shape = (len(windows), self.window)
        return (np.array(windows, dtype=np.int64).reshape(shape), np.array(targets, dtype=np.int64),
                np.array(owners, dtype=np.int64))

    def fit(self, sequences: Sequence[Sequence], y=None) -> DeepLogDetector:
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        held_out: list[Sequence] = []
        if self.top_k is None:
            order = rng.permutation(len(sequences))
            cut = max(1, int(len(sequences) * self.holdout))
            held_out = [sequences[i] for i in order[:cut]]
            sequences = [sequences[i] for i in order[cut:]]
        vocab = sorted({str(t) for seq in sequences for t in seq})
        self.vocabulary_ = {t: i + 3 for i, t in enumerate(vocab)}
        device = pick_device(self.device)
        self.model_ = _NextKey(len(vocab) + 3, self.embed, self.hidden, self.layers).to(device)
        windows, targets, _ = self._windows(sequences)
        optimizer = torch.optim.Adam(self.model_.parameters(), lr=self.lr)
        loss_fn = nn.CrossEntropyLoss()
        self.model_.train()
        for _ in range(self.epochs):
            order = rng.permutation(len(windows))
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                optimizer.zero_grad()
                logits = self.model_(torch.from_numpy(windows[batch]).to(device))
                loss = loss_fn(logits, torch.from_numpy(targets[batch]).to(device))
                loss.backward()
                optimizer.step()
        self.model_.eval()
        self.threshold_ = 0.5
        self.top_k_ = self.top_k if self.top_k is not None else self._calibrate_top_k(held_out)
        return self

    def _calibrate_top_k(self, normal: Sequence[Sequence]) -> int:
        """The smallest k for which at most `max_false_positive_rate` of held-out normal sessions would be
        flagged (a session needs k above the worst rank it gives a true next template)."""
        vocab = len(self.vocabulary_) + 3
        needed = np.sort(np.minimum(self._needed_k(normal), vocab))  # unseen templates: no k helps, cap them
        allowed = int(np.floor(self.max_false_positive_rate * len(needed)))
        return max(1, int(needed[len(needed) - 1 - allowed])) if len(needed) else 1

    def _needed_k(self, sequences: Sequence[Sequence]) -> np.ndarray:
        """Per session, the k that would let every one of its templates pass (inf: an unseen template)."""
        windows, targets, owners = self._windows(sequences)
        need = np.ones(len(sequences))
        device = next(self.model_.parameters()).device
        with torch.inference_mode():
            for start in range(0, len(windows), 4096):
                logits = self.model_(torch.from_numpy(windows[start : start + 4096]).to(device))
                target = torch.from_numpy(targets[start : start + 4096]).to(device)
                rank = (logits > logits.gather(1, target[:, None])).sum(dim=1).cpu().numpy() + 1
                rank = np.where(targets[start : start + 4096] == UNSEEN, np.inf, rank)
                np.maximum.at(need, owners[start : start + 4096], rank)
        return need

    def score_samples(self, sequences: Sequence[Sequence]) -> np.ndarray:
        """Per session: how many of its templates were not among the top-k predictions."""
        windows, targets, owners = self._windows(sequences)
        misses = np.zeros(len(sequences))
        if not len(windows):
            return misses
        device = next(self.model_.parameters()).device
        unique, inverse = np.unique(windows, axis=0, return_inverse=True)  # sessions repeat a lot: predict once
        top = np.zeros((len(unique), self.top_k_), dtype=np.int64)
        with torch.inference_mode():
            for start in range(0, len(unique), 4096):
                logits = self.model_(torch.from_numpy(unique[start : start + 4096]).to(device))
                top[start : start + 4096] = logits.topk(self.top_k_, dim=-1).indices.cpu().numpy()
        predicted = top[inverse.reshape(-1)]
        missed = (targets == UNSEEN) | ~(predicted == targets[:, None]).any(axis=1)
        np.add.at(misses, owners, missed.astype(float))
        return misses
