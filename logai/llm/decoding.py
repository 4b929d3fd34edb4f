"""The decode loop of one request: plain or speculative, greedy or sampled, optionally under a grammar.

Each step feeds the committed token plus a draft (chain or tree) through the target in one forward pass,
accepts the longest draft prefix the target agrees with, and commits one more token from the target's own
distribution at the first disagreement. Greedy: a draft token is accepted when it is the argmax, so the
output is token-identical to plain greedy decoding (up to floating-point differences between a 1-token
and an n-token pass). Sampling: each deterministic draft token is accepted with the target's probability
of it and otherwise removed from the distribution before the next sibling is tried or the final token is
sampled (recursive rejection sampling), so outputs follow the target's distribution.

With a grammar, every verification row is masked by the grammar state at that row, and draft tokens the
grammar rejects are cut before verification. The KV cache keeps only the committed path.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from transformers import (
    DynamicCache,
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from logai.llm.grammar import apply_bitmask
from logai.llm.speculative.draft import DraftTree, Proposer
from logai.llm.types import LLMError, SamplingParams


@dataclass
class DecodeOutput:
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    finish_reason: Literal["stop", "length"] = "length"
    prompt_s: float = 0.0
    decode_s: float = 0.0
    forward_passes: int = 0
    drafted: int = 0
    accepted: int = 0
    top_logprobs: list[list[tuple[int, float]]] = field(default_factory=list)


def cache_argument(model: Any) -> str:
    """The keyword a model's forward takes its KV cache under: `cache` from transformers 5.24,
    `past_key_values` before (still accepted, deprecated, until 5.40)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _allowed(bitmask: torch.Tensor, row: int, token: int) -> bool:
    return bool((int(bitmask[row, token >> 5]) >> (token & 31)) & 1)


def sampling_warpers(sampling: SamplingParams) -> LogitsProcessorList:
    """transformers' own logits warpers, in `generate`'s order (temperature, top-k, top-p): the plain and
    speculative paths here and the batched `generate` path of the backend sample one distribution."""
    warpers = LogitsProcessorList()
    if sampling.temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(sampling.temperature))
    if sampling.top_k > 0:
        warpers.append(TopKLogitsWarper(sampling.top_k))
    if sampling.top_p < 1.0:
        warpers.append(TopPLogitsWarper(sampling.top_p))
    return warpers


_NO_INPUT_IDS = torch.LongTensor(1, 0)  # the warpers read only the scores


def _filter_logits(logits: torch.Tensor, sampling: SamplingParams) -> torch.Tensor:
    """`sampling_warpers` applied to one row of logits (sampling only)."""
    return sampling_warpers(sampling)(_NO_INPUT_IDS, logits.unsqueeze(0))[0]


class _Grammar:
    """A request's matcher plus the bitmask rows of one verification pass."""

    def __init__(self, matcher: Any, cache: Any, rows: int = 64):
        self.matcher = matcher
        self.cache = cache
        self.bitmask = cache.allocate_bitmask(rows)

    def ensure_rows(self, rows: int) -> None:
        if self.bitmask.shape[0] < rows:
            self.bitmask = self.cache.allocate_bitmask(rows)

    def prune(self, draft: DraftTree) -> DraftTree:
        """Drop draft nodes (and their subtrees) the grammar rejects; fill the mask of every kept row.
        Leaves the matcher where it was (at the root)."""
        self.ensure_rows(len(draft) + 1)
        self.matcher.fill_next_token_bitmask(self.bitmask, 0)
        if not draft.tokens:
            return draft
        children = draft.children()
        keep: list[int] = []

        def visit(row: int, node_row_in_mask: int) -> None:
            for node in children[row]:
                token = draft.tokens[node]
                if not _allowed(self.bitmask, node_row_in_mask, token) or self.matcher.is_terminated():
                    continue
                if not self.matcher.accept_token(token):
                    continue
                keep.append(node)
                if self.matcher.is_terminated():  # a stop token: a leaf whose row is never sampled from
                    self.bitmask[len(keep)].fill_(-1)
                else:
                    self.matcher.fill_next_token_bitmask(self.bitmask, len(keep))
                    visit(node + 1, len(keep))
                self.matcher.rollback(1)

        visit(0, 0)
        return draft.subset(keep)  # DFS order: parents before children, row i + 1 = keep[i]


def decode(model: Any, prompt: list[int], sampling: SamplingParams, eos_ids: set[int],
           proposer: Proposer | None = None, matcher: Any = None, grammar_cache: Any = None,
           stop_check: Callable[[list[int]], int | None] | None = None,
           cancelled: Callable[[], bool] | None = None) -> DecodeOutput:
    """Generate up to `sampling.max_tokens` tokens after `prompt` (token ids).

    `stop_check(tokens)` returns the number of tokens to keep when a stop string has appeared, else None.
    `cancelled()` is asked before every forward pass; when it says yes, decoding raises `LLMError` (a process
    shutting down does not wait for a summary to finish).
    """
    device = model.device
    out = DecodeOutput()
    generator = None
    if not sampling.greedy:
        generator = torch.Generator(device=device)
        generator.manual_seed(sampling.seed if sampling.seed is not None else torch.seed())
    grammar = _Grammar(matcher, grammar_cache) if matcher is not None else None
    cache = DynamicCache(config=model.config)
    wants_prompt_logits = proposer is not None and proposer.name == "recycling"
    if proposer is not None:
        proposer.start(prompt)

    started = time.perf_counter()
    with torch.inference_mode():
        kv = cache_argument(model)
        result = model(input_ids=torch.tensor([prompt], device=device), **{kv: cache}, use_cache=True,
                       logits_to_keep=0 if wants_prompt_logits else 1)
        logits = result.logits[0].float()
        if proposer is not None and wants_prompt_logits:
            proposer.observe(prompt, logits)
        out.forward_passes += 1
        out.prompt_s = time.perf_counter() - started
        row_logits = logits[-1:]
        if grammar is not None:
            grammar.ensure_rows(1)
            grammar.matcher.fill_next_token_bitmask(grammar.bitmask, 0)
            apply_bitmask(row_logits, grammar.bitmask[:1])
        token, logprob = _choose(row_logits[0], sampling, generator, exclude=())
        top = _top(row_logits[0], sampling.top_logprobs)
        context = list(prompt)
        decode_started = time.perf_counter()
        while True:
            if _commit(out, context, token, logprob, top, eos_ids, grammar, sampling, stop_check):
                break
            if cancelled is not None and cancelled():
                raise LLMError("generation cancelled: the model is being closed")
            draft = proposer.propose(context) if proposer is not None else DraftTree()
            if grammar is not None:
                draft = grammar.prune(draft)
            draft = _fit(draft, sampling.max_tokens - len(out.token_ids) - 1)
            past = cache.get_seq_length()
            inputs = [token, *draft.tokens]
            depths = [0, *draft.depths()]
            kwargs: dict[str, Any] = {}
            if len(draft) and not draft.is_chain():
                kwargs["attention_mask"] = draft.attention_mask(past, model.dtype, device)
                kwargs["position_ids"] = torch.tensor([[past + d for d in depths]], device=device)
            result = model(input_ids=torch.tensor([inputs], device=device), **{kv: cache},
                           use_cache=True, **kwargs)
            out.forward_passes += 1
            logits = result.logits[0].float()
            if proposer is not None:
                proposer.observe(inputs, logits)
            if grammar is not None:
                apply_bitmask(logits, grammar.bitmask[: len(inputs)])
            path, token, logprob, path_logprobs = _verify(draft, logits, sampling, generator)
            rows = [0, *(node + 1 for node in path)]
            tops = [_top(logits[row], sampling.top_logprobs) for row in rows]
            top = tops[-1]
            out.drafted += len(draft)
            out.accepted += len(path)
            if proposer is not None:
                proposer.feedback(len(draft), len(path))
            _keep_path(cache, past, path, draft.is_chain())
            stopped = False
            for node, node_logprob, node_top in zip(path, path_logprobs, tops, strict=False):
                if _commit(out, context, draft.tokens[node], node_logprob, node_top, eos_ids, grammar, sampling,
                           stop_check):
                    stopped = True
                    break
            if stopped:
                break
        out.decode_s = time.perf_counter() - decode_started
    if proposer is not None:
        proposer.finish(out.token_ids)
    return out


def _fit(draft: DraftTree, room: int) -> DraftTree:
    """Drop nodes deeper than `room` (tokens left before max_tokens)."""
    if room <= 0:
        return DraftTree()
    if not draft.tokens or max(draft.depths()) <= room:
        return draft
    depths = draft.depths()
    return draft.subset([i for i, d in enumerate(depths) if d <= room])


def _top(logits: torch.Tensor, k: int) -> list[tuple[int, float]]:
    """The k most likely tokens of a row with their log-probabilities (empty when k is 0)."""
    if k <= 0:
        return []
    values, indices = torch.log_softmax(logits, dim=-1).topk(k)
    return [(t, v) for t, v in zip(indices.tolist(), values.tolist(), strict=True) if v > float("-inf")]


def _commit(out: DecodeOutput, context: list[int], token: int, logprob: float, top: list[tuple[int, float]],
            eos_ids: set[int], grammar: _Grammar | None, sampling: SamplingParams,
            stop_check: Callable[[list[int]], int | None] | None) -> bool:
    """Append a verified token; True when generation must stop."""
    if token in eos_ids:
        out.finish_reason = "stop"
        return True
    out.token_ids.append(token)
    out.logprobs.append(logprob)
    if sampling.top_logprobs:
        out.top_logprobs.append(top)
    context.append(token)
    if grammar is not None:
        grammar.matcher.accept_token(token)
        if grammar.matcher.is_terminated():
            out.finish_reason = "stop"
            return True
    if stop_check is not None:
        keep = stop_check(out.token_ids)
        if keep is not None:
            del out.token_ids[keep:], out.logprobs[keep:], out.top_logprobs[keep:]
            out.finish_reason = "stop"
            return True
    if len(out.token_ids) >= sampling.max_tokens:
        out.finish_reason = "length"
        return True
    return False


def _choose(logits: torch.Tensor, sampling: SamplingParams, generator: torch.Generator | None,
            exclude: tuple[int, ...] | list[int]) -> tuple[int, float]:
    """The next token from one row of logits (greedy or sampled), with its log-probability."""
    if sampling.greedy:
        logprobs = torch.log_softmax(logits, dim=-1)
        token = int(torch.argmax(logits))
        return token, float(logprobs[token])
    filtered = _filter_logits(logits, sampling)
    probs = torch.softmax(filtered, dim=-1)
    if exclude:
        probs[list(exclude)] = 0.0
        probs = probs / probs.sum()
    token = int(torch.multinomial(probs, 1, generator=generator))
    return token, float(torch.log(probs[token]))


def _verify(draft: DraftTree, logits: torch.Tensor, sampling: SamplingParams,
            generator: torch.Generator | None) -> tuple[list[int], int, float, list[float]]:
    """Walk the draft from the root: returns the accepted node indices (a root-to-node path), the token
    committed after them, its log-probability, and the log-probabilities of the accepted nodes."""
    children = draft.children()
    path: list[int] = []
    path_logprobs: list[float] = []
    row = 0
    while True:
        row_logits = logits[row]
        kids = children[row]
        if sampling.greedy:
            logprobs = torch.log_softmax(row_logits, dim=-1)
            best = int(torch.argmax(row_logits))
            nxt = next((k for k in kids if draft.tokens[k] == best), None)
            if nxt is None:
                return path, best, float(logprobs[best]), path_logprobs
            path.append(nxt)
            path_logprobs.append(float(logprobs[best]))
            row = nxt + 1
            continue
        probs = torch.softmax(_filter_logits(row_logits, sampling), dim=-1)
        accepted = None
        for kid in kids:
            candidate = draft.tokens[kid]
            p = float(probs[candidate])
            if p > 0 and float(torch.rand((), generator=generator, device=probs.device)) < p:
                accepted = kid
                path_logprobs.append(float(torch.log(probs[candidate])))
                break
            probs[candidate] = 0.0  # rejected: the residual distribution excludes it
            total = float(probs.sum())
            if total <= 0:
                break
            probs = probs / total
        if accepted is None:
            token = int(torch.multinomial(probs, 1, generator=generator))
            return path, token, float(torch.log(probs[token])), path_logprobs
        path.append(accepted)
        row = accepted + 1


def _keep_path(cache: DynamicCache, past: int, path: list[int], chain: bool) -> None:
    """Keep the cache up to `past`, the root (row 0) and the accepted nodes; drop the rest of the draft."""
    rows = [0, *(node + 1 for node in path)]
    layers: list[Any] = list(cache.layers)  # DynamicLayers (typed as the union of every kind of cache layer)
    for layer in layers:
        if chain:  # accepted rows are a prefix: slicing, no copy
            layer.keys = layer.keys[..., : past + len(rows), :]
            layer.values = layer.values[..., : past + len(rows), :]
        else:
            index = torch.tensor([*range(past), *(past + r for r in rows)], device=layer.keys.device)
            layer.keys = layer.keys.index_select(-2, index)
            layer.values = layer.values.index_select(-2, index)
