"""LogRobust-style detector (Zhang et al., FSE'19): each template becomes a semantic vector (MiniLM
sentence embedding), a session is the sequence of its templates' vectors, and an attention-based BiLSTM
learns to tell anomalous sessions from normal ones. Because vectors come from the template text, a
template never seen in training (a new log statement, a changed wording) still lands near its relatives.
Supervised: `fit(sequences, y)` where sequences hold template *texts*.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from logai.detect.base import SessionDetector
from logai.devices import pick_device


class _AttentionBiLSTM(nn.Module):
    def __init__(self, dim: int, hidden: int, layers: int):
        super().__init__()
        f32 = torch.float32  # not torch's default, which a model loading in another thread can change
        self.lstm = nn.LSTM(dim, hidden, layers, batch_first=True, bidirectional=True, dtype=f32)
        self.score = nn.Sequential(nn.Linear(2 * hidden, hidden, dtype=f32), nn.Tanh(),
                                   nn.Linear(hidden, 1, dtype=f32))
        self.out = nn.Linear(2 * hidden, 2, dtype=f32)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        # packed, so padding never enters the backward direction: a session scores the same in any batch
        lengths = mask.sum(dim=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        states, _ = nn.utils.rnn.pad_packed_sequence(self.lstm(packed)[0], batch_first=True,
                                                     total_length=x.shape[1])
        weights = self.score(states).squeeze(-1).masked_fill(~mask, float("-inf")).softmax(dim=-1)
        return self.out((weights.unsqueeze(-1) * states).sum(dim=1))


class LogRobustDetector(SessionDetector):
    uses_text = True  # sequences hold template texts, not ids
    def __init__(self, hidden: int = 64, layers: int = 1, epochs: int = 15, batch_size: int = 128,
                 lr: float = 2e-3, max_len: int = 64, threshold: float = 0.5, model_dir: str | None = None,
                 random_state: int = 0, device: str | None = None):
        self.hidden = hidden
        self.layers = layers
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.max_len = max_len
        self.threshold = threshold
        self.model_dir = model_dir
        self.random_state = random_state
        self.device = device

    # the embedder (a transformer) is rebuilt on demand, and the BiLSTM's weights are saved apart
    # (safetensors, `logai.detect.persist`): neither is part of the estimator's state
    def __getstate__(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k not in ("embedder_", "model_")}

    def restore_model(self, weights: dict[str, torch.Tensor]) -> None:
        """Rebuild the fitted network from saved weights (the input width is read off them)."""
        self.model_ = _AttentionBiLSTM(weights["lstm.weight_ih_l0"].shape[1], self.hidden, self.layers)
        self.model_.load_state_dict(weights)
        device = pick_device(self.device)
        self.model_.to(device).eval()

    def _embedder(self):
        if getattr(self, "embedder_", None) is None:
            from logai.slm.embeddings import SentenceEmbedder

            self.embedder_ = SentenceEmbedder(self.model_dir, device=self.device)
        return self.embedder_

    def _encode(self, sequences: Sequence[Sequence[str]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(vector table, index matrix, mask): sessions as rows of indices into one table of template
        vectors (row 0 = padding), so memory grows with templates, not with sessions x steps x 384."""
        texts = list(dict.fromkeys(t for seq in sequences for t in seq[: self.max_len]))
        embedder = self._embedder()
        table = np.zeros((len(texts) + 1, embedder.dim), dtype=np.float32)
        if texts:
            table[1:] = embedder.encode(texts)
        position = {t: i + 1 for i, t in enumerate(texts)}
        length = max(1, max((min(len(s), self.max_len) for s in sequences), default=1))
        index = np.zeros((len(sequences), length), dtype=np.int64)
        mask = np.zeros((len(sequences), length), dtype=bool)
        for row, seq in enumerate(sequences):
            steps = [position[t] for t in seq[: self.max_len]]
            index[row, : len(steps)] = steps
            mask[row, : max(1, len(steps))] = True  # an empty session still has one (zero) step
        return torch.from_numpy(table), torch.from_numpy(index), torch.from_numpy(mask)

    def fit(self, sequences: Sequence[Sequence[str]], y) -> LogRobustDetector:
        torch.manual_seed(self.random_state)
        rng = np.random.default_rng(self.random_state)
        labels = torch.as_tensor(np.asarray(y), dtype=torch.long)
        self.vocabulary_ = {t: i for i, t in enumerate(dict.fromkeys(t for s in sequences for t in s))}
        table, index, mask = self._encode(sequences)
        device = pick_device(self.device)
        table = table.to(device)
        self.model_ = _AttentionBiLSTM(table.shape[-1], self.hidden, self.layers).to(device)
        counts = torch.bincount(labels, minlength=2).float().clamp(min=1)
        loss_fn = nn.CrossEntropyLoss(weight=(counts.sum() / (2 * counts)).to(device))  # balanced classes
        optimizer = torch.optim.Adam(self.model_.parameters(), lr=self.lr)
        self.model_.train()
        for _ in range(self.epochs):
            order = torch.from_numpy(rng.permutation(len(labels)))
            for start in range(0, len(order), self.batch_size):
                rows = order[start : start + self.batch_size]
                optimizer.zero_grad()
                logits = self.model_(table[index[rows].to(device)], mask[rows].to(device))
                loss = loss_fn(logits, labels[rows].to(device))
                loss.backward()
                optimizer.step()
        self.model_.eval()
        self.threshold_ = self.threshold
        return self

    def score_samples(self, sequences: Sequence[Sequence[str]]) -> np.ndarray:
        """Probability that each session is anomalous."""
        if not len(sequences):
            return np.zeros(0)
        device = next(self.model_.parameters()).device
        scores = []
        with torch.inference_mode():
            for start in range(0, len(sequences), 2048):
                table, index, mask = self._encode(sequences[start : start + 2048])
                logits = self.model_(table.to(device)[index.to(device)], mask.to(device))
                scores.append(logits.softmax(dim=-1)[:, 1].cpu().numpy())
        return np.concatenate(scores)
