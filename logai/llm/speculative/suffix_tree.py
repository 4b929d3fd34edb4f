"""SuffixDecoding-style proposer: suffix trees over the current prompt and over earlier outputs.

Log-analysis output repeats itself (templates, JSON keys, copied fields), so the tokens that followed the
current context's suffix before are a good guess for what follows now. Two trees are kept:

- a per-request tree over the prompt and the output so far, extended as tokens are committed;
- a global tree over recent outputs (bounded: the oldest outputs are evicted and the tree rebuilt).

Both are suffix tries of bounded depth with a count per node. A query finds the longest suffix of the
context present in a tree and follows the most frequent continuation while its estimated probability
stays above `min_prob`. The draft length adapts to the match: at most `alpha` tokens per matched token
(SuffixDecoding's MAX_SPEC = alpha * p), capped by `max_spec`, and shrunk after rejections.
"""

from __future__ import annotations

from collections import deque

import torch

from logai.llm.speculative.draft import DraftTree


class _Node:
    __slots__ = ("children", "count", "last")

    def __init__(self) -> None:
        self.count = 0
        self.last = 0  # position of the latest occurrence's end
        self.children: dict[int, _Node] = {}


class SuffixTrie:
    """Every substring of length <= depth of the added sequences, with occurrence counts."""

    def __init__(self, depth: int = 32):
        self.depth = depth
        self.root = _Node()
        self._open: list[_Node] = []  # nodes of the suffixes ending at the last appended token
        self.size = 0  # tokens added

    def append(self, token: int) -> None:
        """Extend the current sequence by one token (O(depth))."""
        extended: list[_Node] = []
        for node in [self.root, *self._open[: self.depth - 1]]:
            child = node.children.get(token)
            if child is None:
                child = node.children[token] = _Node()
            child.count += 1
            child.last = self.size
            extended.append(child)
        self._open = extended
        self.size += 1

    def extend(self, tokens: list[int]) -> None:
        for token in tokens:
            self.append(token)

    def end_sequence(self) -> None:
        """The next append starts a new sequence (no substring spans the boundary)."""
        self._open = []

    def match(self, context: list[int], max_length: int, min_length: int = 1) -> tuple[_Node | None, int]:
        """The node of the longest suffix of `context` (at most `max_length` tokens) that the trie has seen
        continued, and its length. Matches must stay well short of the trie depth, or there is no room
        left below the match to draft from."""
        for length in range(min(max_length, self.depth - 1, len(context)), min_length - 1, -1):
            node = self.root
            for token in context[len(context) - length :]:
                child = node.children.get(token)
                if child is None:
                    break
                node = child
            else:  # the whole suffix was found
                if node.children:
                    return node, length
        return None, 0

    @staticmethod
    def continuation(node: _Node, limit: int, min_prob: float, recent: bool = False) -> tuple[list[int], float]:
        """Follow the most frequent child (or, with `recent`, the latest seen) while the path probability
        stays >= min_prob."""
        tokens: list[int] = []
        prob = 1.0
        rank = (lambda item: item[1].last) if recent else (lambda item: item[1].count)
        while len(tokens) < limit and node.children:
            token, child = max(node.children.items(), key=rank)
            total = sum(c.count for c in node.children.values())
            prob *= child.count / total
            if prob < min_prob:
                break
            tokens.append(token)
            node = child
        return tokens, prob


class SuffixProposer:
    """Drafts from the per-request and global suffix tries; chain drafts, adaptive length."""

    name = "suffix"

    def __init__(self, max_spec: int = 16, alpha: float = 4.0, min_prob: float = 0.1, max_match: int = 12,
                 cache_tokens: int = 200_000, min_spec: int = 2):
        self.max_spec = max_spec
        self.alpha = alpha
        self.min_prob = min_prob
        self.max_match = max_match
        self.min_match = 2  # a single shared token is weak evidence (" the"): no draft from it
        self.depth = max_match + max_spec + 1  # room for a full draft below the longest match
        self.cache_tokens = cache_tokens
        self.global_trie = SuffixTrie(self.depth)
        self._outputs: deque[list[int]] = deque()
        self._cached = 0
        self.local = SuffixTrie(self.depth)
        self._seen = 0  # context tokens already in the local trie
        self.min_spec = min_spec
        self.probe_below = 0.5  # accepted tokens per step (moving average) under which drafting pauses
        self.probe_every = 8
        self._steps = 0
        self._limit = max_spec  # shrinks after rejections, grows back on acceptance
        self._accepted_avg = 2.0

    def start(self, prompt: list[int]) -> None:
        self.local = SuffixTrie(self.depth)
        self.local.extend(prompt)
        self._seen = len(prompt)
        self._limit = self.max_spec
        self._accepted_avg = 2.0  # a new request starts cautious; accepted drafts raise it within a step or two
        self._steps = 0

    def propose(self, context: list[int]) -> DraftTree:
        if len(context) > self._seen:
            self.local.extend(context[self._seen :])
            self._seen = len(context)
        self._steps += 1
        if self._accepted_avg < self.probe_below and self._steps % self.probe_every:
            return DraftTree()  # text that does not repeat: decode plainly, probing now and then

        best: list[int] = []
        best_score = 0.0
        # within a request the latest occurrence is the best guess (output repeats what it just wrote);
        # across requests the most frequent continuation is
        for trie, recent in ((self.local, True), (self.global_trie, False)):
            node, matched = trie.match(context, self.max_match, self.min_match)
            if node is None:
                continue
            limit = min(self._limit, int(self.alpha * matched))
            tokens, prob = trie.continuation(node, limit, self.min_prob, recent)
            if len(tokens) * prob > best_score:  # expected accepted tokens, roughly
                best, best_score = tokens, len(tokens) * prob
        return DraftTree.chain(best)

    def observe(self, tokens: list[int], logits: torch.Tensor) -> None:
        pass

    def feedback(self, drafted: int, accepted: int) -> None:
        """Back off when drafts keep failing (text that does not repeat), grow back when they land: the
        cap follows a moving average of accepted tokens, never below `min_spec`."""
        if not drafted:
            return
        self._accepted_avg = 0.7 * self._accepted_avg + 0.3 * accepted
        self._limit = max(self.min_spec, min(self.max_spec, round(2 * self._accepted_avg) + self.min_spec))

    def finish(self, output: list[int]) -> None:
        """Add the output to the global cache; past the token budget, evict the oldest and rebuild."""
        if not output:
            return
        self._outputs.append(list(output))
        self._cached += len(output)
        self.global_trie.extend(output)
        self.global_trie.end_sequence()
        if self._cached > self.cache_tokens:
            while self._cached > self.cache_tokens // 2 and self._outputs:
                self._cached -= len(self._outputs.popleft())
            self.global_trie = SuffixTrie(self.depth)
            for seq in self._outputs:
                self.global_trie.extend(seq)
                self.global_trie.end_sequence()
