"""Constrained decoding with xgrammar: compile a `Constraint` once, then mask logits token by token.

`GrammarCompilerCache` holds one xgrammar compiler per tokenizer and the compiled grammars per constraint
(LRU). Every request gets a fresh `GrammarMatcher` (matchers are stateful). `GrammarLogitsProcessor` is the
transformers `LogitsProcessor` for `model.generate` over batched rows; the speculative decoder drives
matchers directly (accept, rollback) to cut draft tokens the grammar rejects.
"""

from __future__ import annotations

import json
from typing import Any

import torch
from cachetools import LRUCache
from transformers import LogitsProcessor

from logai.llm.types import Constraint

try:
    import xgrammar as xgr
except ImportError as exc:  # installed --no-deps by the Makefile; say how when it is missing
    xgr = None  # type: ignore[assignment]  # the module is missing: every use checks _IMPORT_ERROR first
    _IMPORT_ERROR: ImportError | None = exc
else:
    _IMPORT_ERROR = None


def _require_xgrammar() -> Any:
    if xgr is None:
        raise ImportError("constrained decoding needs xgrammar: pip install --no-deps xgrammar apache-tvm-ffi"
                          ) from _IMPORT_ERROR
    return xgr


def choice_grammar(options: list[str]) -> str:
    """EBNF accepting exactly one of `options` (string literals JSON-escaped, which EBNF accepts)."""
    return "root ::= " + " | ".join(json.dumps(option) for option in options)


class GrammarCompilerCache:
    """Compiled grammars for one tokenizer, cached per constraint."""

    def __init__(self, tokenizer, vocab_size: int, stop_token_ids: list[int] | None = None,
                 max_entries: int = 128):
        lib = _require_xgrammar()
        self.vocab_size = vocab_size
        self.info = lib.TokenizerInfo.from_huggingface(tokenizer, vocab_size=vocab_size,
                                                        stop_token_ids=stop_token_ids)
        self.compiler = lib.GrammarCompiler(self.info, max_threads=2)
        self.max_entries = max_entries
        self._compiled: LRUCache[str, Any] = LRUCache(maxsize=max_entries)

    def compile(self, constraint: Constraint):
        key = constraint.key()
        compiled = self._compiled.get(key)
        if compiled is not None:
            return compiled
        try:
            if constraint.kind == "json_schema":
                compiled = self.compiler.compile_json_schema(json.dumps(constraint.spec), any_whitespace=False)
            elif constraint.kind == "regex":
                compiled = self.compiler.compile_regex(str(constraint.spec))
            elif constraint.kind == "choice":
                compiled = self.compiler.compile_grammar(choice_grammar(list(constraint.spec)))
            elif constraint.kind == "ebnf":
                compiled = self.compiler.compile_grammar(str(constraint.spec))
            else:
                raise ValueError(f"unknown constraint kind {constraint.kind!r}")
        except RuntimeError as exc:
            raise ValueError(f"invalid {constraint.kind} constraint: {exc}") from exc
        self._compiled[key] = compiled
        return compiled

    def matcher(self, constraint: Constraint):
        """A fresh matcher for one request (xgrammar matchers roll back any number of tokens)."""
        return xgr.GrammarMatcher(self.compile(constraint))

    def allocate_bitmask(self, rows: int) -> torch.Tensor:
        return xgr.allocate_token_bitmask(rows, self.vocab_size)


def apply_bitmask(logits: torch.Tensor, bitmask: torch.Tensor) -> None:
    """Set disallowed tokens' logits to -inf, in place (logits: rows x vocab, any device)."""
    xgr.apply_token_bitmask_inplace(logits, bitmask.to(logits.device, non_blocking=True))


class GrammarLogitsProcessor(LogitsProcessor):
    """Masks each row's logits to what its grammar allows next; rows without a matcher pass through.

    Works with `model.generate(..., logits_processor=[...])`: on every call after the first it feeds each
    row's last generated token to that row's matcher. A finished row (grammar terminated) may only emit a
    stop token, which xgrammar's mask already says."""

    def __init__(self, matchers: list[Any | None], cache: GrammarCompilerCache):
        self.matchers = matchers
        self.cache = cache
        self.bitmask = cache.allocate_bitmask(len(matchers))
        self._prompt_len: int | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self._prompt_len is None:
            self._prompt_len = input_ids.shape[1]
        elif input_ids.shape[1] > self._prompt_len:
            for row, matcher in enumerate(self.matchers):
                if matcher is not None and not matcher.is_terminated():
                    matcher.accept_token(int(input_ids[row, -1]))
        constrained = False
        for row, matcher in enumerate(self.matchers):
            if matcher is not None and not matcher.is_terminated():
                matcher.fill_next_token_bitmask(self.bitmask, row)
                constrained = True
            else:
                xgr.reset_token_bitmask(self.bitmask[row : row + 1])
        if not constrained:
            return scores
        masked = scores.clone()
        apply_bitmask(masked, self.bitmask[: scores.shape[0]])
        return masked  # type: ignore[return-value]  # transformers annotates processors with FloatTensor
