"""Matching a message against known templates directly, before masking: the miner's fastest path.

Templates are indexed by (first token, token count); templates that start with a wildcard sit under
(None, token count). A message is tried against the candidates, most specific first, with a regex in
which each `<*>` stays inside one token. The fast path never captures a message that the slow path
(masking, the shape cache, Drain) would have put elsewhere; it only skips the masking and the tree walk:
- a template whose share of fully literal tokens reaches the similarity threshold takes any message that
  agrees with every literal: that is exactly Drain's test;
- a template with more wildcards than that (`Receiving block <*> src: <*>:<*> dest: <*>:<*>`, 4 of 7
  literal) is one Drain accepts only for messages of its exact masked shape. It takes a message when every
  value is something the masks would have replaced whole (`is_masked`), the shape the slow path would find.
  Every template is indexed: a line tries the candidates of its (first token, count), and a few literal
  tokens compared first turn most of them away cheaply (on the 14 Loghub logs interleaved, indexing
  templates that are mostly values too is 3% faster; without that comparison it was 20% slower).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from logai.events import WILDCARD

if TYPE_CHECKING:
    from logai.parsing.miner import Template



PREFILTER = 3  # literal tokens compared before a full match is tried


class _Entry:
    __slots__ = ("checked", "literals", "specificity", "template")

    def __init__(self, template: Template, tokens: list[str], checked: bool):
        self.template = template
        self.checked = checked  # its values must each be a whole mask match
        self.specificity = (-len(template.text.replace(WILDCARD, "")), template.id)
        # A match keeps every `<*>` inside one token, so token i of the message is token i of the template,
        # and a literal token must be equal: a few of them, compared first (last first: where messages of one
        # first word and length differ most), turn most candidates away without aligning the message.
        self.literals = tuple((i, token) for i, token in reversed(list(enumerate(tokens)))
                              if i > 0 and WILDCARD not in token)[:PREFILTER]


class TemplateIndex:
    """Known templates by (first token, token count)."""

    def __init__(self, sim_th: float, is_masked: Callable[[str], bool], max_candidates: int = 256):
        self.sim_th = sim_th
        self.is_masked = is_masked  # the masker's test of a whole value (checked entries)
        self.max_candidates = max_candidates  # tried per lookup, most specific first (`parsing.max_candidates`)
        self._by_key: dict[tuple[str | None, int], list[_Entry]] = {}
        self._key_of: dict[str, tuple[str | None, int]] = {}

    def __len__(self) -> int:
        return len(self._key_of)

    def add(self, template: Template) -> None:
        tokens = template.text.split(" ")
        literal = sum(1 for t in tokens if WILDCARD not in t)
        share = literal / len(tokens)
        checked = share < self.sim_th
        if template.id in self._key_of:
            return
        key = (None if WILDCARD in tokens[0] else tokens[0], len(tokens))
        bucket = self._by_key.setdefault(key, [])
        bucket.append(_Entry(template, tokens, checked))
        bucket.sort(key=lambda e: e.specificity)
        self._key_of[template.id] = key

    def remove(self, template_id: str) -> None:
        key = self._key_of.pop(template_id, None)
        if key is not None:
            bucket = [e for e in self._by_key[key] if e.template.id != template_id]
            if bucket:
                self._by_key[key] = bucket
            else:
                del self._by_key[key]

    def clear(self) -> None:
        self._by_key.clear()
        self._key_of.clear()

    def match(self, content: str) -> tuple[Template, list[str]] | None:
        """The most specific indexed template covering `content`, with its parameter values."""
        tokens = content.split()
        if not tokens:
            return None
        count = len(tokens)
        is_masked = self.is_masked
        for key in ((tokens[0], count), (None, count)):
            bucket = self._by_key.get(key)
            if bucket:
                if len(bucket) > self.max_candidates:  # bounded for exploding sources
                    bucket = bucket[: self.max_candidates]
                for entry in bucket:
                    for i, literal in entry.literals:
                        if tokens[i] != literal:
                            break
                    else:
                        params = entry.template.match_tokens(content)
                        if params is not None and (not entry.checked or all(map(is_masked, params))):
                            return entry.template, params
        return None
