"""Single-forward-pass label scoring (FIRST-style) for classification with a causal LM.

The prompt is run once; each label's score is the logit of its first token at the answer position, and a
softmax over those (divided by a temperature fitted on labelled examples) gives calibrated probabilities.
When two labels share their first token, the first-token logits cannot tell them apart: the labels are
then scored by their full log-likelihood in one batched pass (one row per label).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from logai.calibration import fit_temperature
from logai.llm.types import LabelScores


class LabelScorer:
    def __init__(self, model: Any, tokenizer: Any, prompt_ids: Callable[[list[dict[str, str]]], list[int]],
                 temperature: float = 1.0):
        self.model = model
        self.tokenizer = tokenizer
        self.prompt_ids = prompt_ids
        self.temperature = temperature

    def label_tokens(self, labels: Sequence[str]) -> list[list[int]]:
        return [self.tokenizer(label, add_special_tokens=False)["input_ids"] for label in labels]

    def logits(self, messages: list[dict[str, str]], labels: Sequence[str]) -> torch.Tensor:
        """One score per label (before temperature): first-token logits, or full log-likelihoods."""
        if not labels:
            raise ValueError("no labels to score")
        prompt = self.prompt_ids(messages)
        tokens = self.label_tokens(labels)
        if any(not t for t in tokens):
            raise ValueError("a label tokenizes to nothing")
        device = self.model.device
        with torch.inference_mode():
            firsts = [t[0] for t in tokens]
            if len(set(firsts)) == len(firsts):
                out = self.model(input_ids=torch.tensor([prompt], device=device), logits_to_keep=1)
                row = out.logits[0, -1].float().log_softmax(-1)
                return row[torch.tensor(firsts, device=device)].cpu()
            width = len(prompt) + max(map(len, tokens))
            pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
            rows = [prompt + t + [pad] * (width - len(prompt) - len(t)) for t in tokens]
            mask = [[1] * (len(prompt) + len(t)) + [0] * (width - len(prompt) - len(t)) for t in tokens]
            out = self.model(input_ids=torch.tensor(rows, device=device),
                             attention_mask=torch.tensor(mask, device=device))
            logprobs = out.logits.float().log_softmax(-1)
            scores = []
            for i, t in enumerate(tokens):
                positions = torch.arange(len(prompt) - 1, len(prompt) - 1 + len(t), device=device)
                scores.append(logprobs[i, positions, torch.tensor(t, device=device)].sum())
            return torch.stack(scores).cpu()

    def score(self, messages: list[dict[str, str]], labels: Sequence[str]) -> LabelScores:
        probs = torch.softmax(self.logits(messages, labels) / self.temperature, dim=-1)
        return LabelScores(list(labels), [float(p) for p in probs])

    def fit_temperature(self, examples: Sequence[tuple[list[dict[str, str]], str]], labels: Sequence[str],
                        steps: int = 200) -> float:
        """Temperature scaling: the T minimising the negative log-likelihood of the gold labels."""
        scores = torch.stack([self.logits(messages, labels) for messages, _ in examples])
        gold = torch.tensor([list(labels).index(label) for _, label in examples])
        self.temperature = fit_temperature(scores, gold, steps)
        return self.temperature
