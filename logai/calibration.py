"""Temperature scaling (Guo et al., 2017): one scalar T dividing the logits so that softmax probabilities
match observed accuracy. Shared by the small model and the LLM label scorer."""

from __future__ import annotations

import math

import torch


def fit_temperature(logits: torch.Tensor, gold: torch.Tensor, steps: int = 200,
                    bounds: tuple[float, float] = (0.05, 20.0)) -> float:
    """The T within `bounds` minimising the negative log-likelihood of `gold` (class indexes) under
    softmax(logits / T). `logits` is (items, classes). T is searched inside `bounds`: on a dev set the model
    gets almost all right with tiny logits the likelihood keeps rising as T falls, and an unbounded search
    once stepped to T = e^-125, the logits overflowed and T came back NaN (every later prediction was then
    class 0)."""
    logits = logits.detach().float()
    low, high = math.log(bounds[0]), math.log(bounds[1])
    log_t = torch.zeros((), dtype=torch.float32, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=steps)

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_t.clamp(low, high).exp(), gold)
        loss.backward()
        return loss

    optimizer.step(closure)
    found = float(log_t.detach().clamp(low, high).exp())
    return found if math.isfinite(found) else 1.0
