"""A draft: guessed tokens arranged as a tree rooted at the last committed token (a chain is a tree whose
every node has one child). Nodes are stored parent-before-child, so a node's index is its row in the
verification pass (row 0 is the root)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import torch


@dataclass
class DraftTree:
    tokens: list[int] = field(default_factory=list)
    parents: list[int] = field(default_factory=list)  # index of the parent node; -1 = the root

    @classmethod
    def chain(cls, tokens: list[int]) -> DraftTree:
        return cls(list(tokens), list(range(-1, len(tokens) - 1)))

    def __len__(self) -> int:
        return len(self.tokens)

    def is_chain(self) -> bool:
        return all(parent == i - 1 for i, parent in enumerate(self.parents))

    def depths(self) -> list[int]:
        """Depth of each node (children of the root have depth 1)."""
        depth: list[int] = []
        for parent in self.parents:
            depth.append(1 if parent < 0 else depth[parent] + 1)
        return depth

    def children(self) -> list[list[int]]:
        """Children of each row of the verification pass: row 0 is the root, row i+1 is node i."""
        kids: list[list[int]] = [[] for _ in range(len(self.tokens) + 1)]
        for node, parent in enumerate(self.parents):
            kids[parent + 1].append(node)
        return kids

    def subset(self, keep: list[int]) -> DraftTree:
        """The nodes in `keep` (which must include each kept node's parent), re-indexed."""
        index = {old: new for new, old in enumerate(keep)}
        return DraftTree([self.tokens[i] for i in keep],
                         [-1 if self.parents[i] < 0 else index[self.parents[i]] for i in keep])

    def attention_mask(self, past: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """Additive 4D mask (1, 1, 1 + n, past + 1 + n) for verifying root + nodes after `past` cached
        tokens: every row sees the cache, the root, its ancestors and itself."""
        n = len(self.tokens)
        allowed = torch.zeros(1 + n, 1 + n, dtype=torch.bool)
        allowed[:, 0] = True
        for node, parent in enumerate(self.parents):
            row = node + 1
            allowed[row, row] = True
            if parent >= 0:
                allowed[row] |= allowed[parent + 1]
        full = torch.cat([torch.ones(1 + n, past, dtype=torch.bool), allowed], dim=1)
        mask = torch.zeros(full.shape, dtype=dtype)
        mask.masked_fill_(~full, torch.finfo(dtype).min)
        return mask.to(device)[None, None]


class Proposer(Protocol):
    """What the speculative decoder asks of a draft source (suffix tree, token recycling)."""

    name: str

    def start(self, prompt: list[int]) -> None:
        """A new request begins with this prompt."""

    def propose(self, context: list[int]) -> DraftTree:
        """Guesses for the tokens after `context` (prompt + output so far, ending at the committed token)."""

    def observe(self, tokens: list[int], logits: torch.Tensor) -> None:
        """The target's logits (one row per token of `tokens`) from the last forward pass."""

    def feedback(self, drafted: int, accepted: int) -> None:
        """How many of the last draft's tokens were verified and accepted."""

    def finish(self, output: list[int]) -> None:
        """The request is done; `output` is what it generated."""
