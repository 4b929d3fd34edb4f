"""Matching a message against known templates directly, before masking: the miner's fastest path.

Templates are indexed by (first token, token count); templates that start with a wildcard sit under
(None, token count). A message is tried against the candidates, most specific first, with a regex in
which each `<*>` stays inside one token. Only templates Drain itself would accept are indexed: the
share of their fully literal tokens must reach the similarity threshold, which is exactly Drain's
test for a message that agrees with every literal. So the fast path never captures a message that
Drain would have put in a new cluster; it only skips the masking and the tree walk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from logai.events import WILDCARD

if TYPE_CHECKING:
    from logai.parsing.miner import Template



class _Entry:
    __slots__ = ("specificity", "template")

    def __init__(self, template: Template):
        self.template = template
        self.specificity = (-len(template.text.replace(WILDCARD, "")), template.id)


class TemplateIndex:
    """Known templates by (first token, token count)."""

    def __init__(self, sim_th: float, max_candidates: int = 256):
        self.sim_th = sim_th
        self.max_candidates = max_candidates  # tried per lookup, most specific first (`parsing.max_candidates`)
        self._by_key: dict[tuple[str | None, int], list[_Entry]] = {}
        self._key_of: dict[str, tuple[str | None, int]] = {}

    def __len__(self) -> int:
        return len(self._key_of)

    def add(self, template: Template) -> None:
        tokens = template.text.split(" ")
        literal = sum(1 for t in tokens if WILDCARD not in t)
        if not tokens or literal / len(tokens) < self.sim_th or template.id in self._key_of:
            return
        key = (None if WILDCARD in tokens[0] else tokens[0], len(tokens))
        bucket = self._by_key.setdefault(key, [])
        bucket.append(_Entry(template))
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
        for key in ((tokens[0], count), (None, count)):
            bucket = self._by_key.get(key)
            if bucket:
                for entry in bucket[: self.max_candidates]:  # bounded for exploding sources
                    params = entry.template.match_tokens(content)
                    if params is not None:
                        return entry.template, params
        return None
