"""The contextual knowledge base: which concept an instance was seen with, across the stream.

SemParser's implicit semantics: a block id stated once as `block blk_1` is still a block when a later
message mentions `blk_1` bare. Both maps are bounded (least recently used first out) and persisted with
the parser state.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any


class KnowledgeBase:
    def __init__(self, max_instances: int = 100_000):
        self.max_instances = max_instances
        # oldest statement first out (O(1) per insert); a repeated statement is not moved, which keeps
        # the per-line cost to one lookup (approximate LRU)
        self._concept_of: OrderedDict[str, str] = OrderedDict()
        self._taught_by: dict[str, int] = {}  # instance -> the line that stated its current concept
        # the lookups, as the maps' own `get` (asked once per parameter of every line: no Python frame)
        self.concept_of: Callable[[str], str | None] = self._concept_of.get
        self.taught_by: Callable[[str], int | None] = self._taught_by.get

    def __len__(self) -> int:
        return len(self._concept_of)

    def observe(self, concept: str, instance: str, line: int | None = None) -> None:
        """Record that `instance` was stated as an instance of `concept` (by `line` of the source)."""
        concept_of = self._concept_of
        previous = concept_of.get(instance)
        if previous == concept:
            return
        if previous is not None:
            del concept_of[instance]
        concept_of[instance] = concept
        if line is not None:
            self._taught_by[instance] = line
        elif previous is not None:
            self._taught_by.pop(instance, None)  # the line that taught the old concept did not teach this one
        if len(concept_of) > self.max_instances:
            self._taught_by.pop(concept_of.popitem(last=False)[0], None)

    def to_state(self) -> dict[str, Any]:
        return {"concept_of": list(self._concept_of.items()), "taught_by": list(self._taught_by.items())}

    def load_state(self, state: dict[str, Any]) -> None:
        self._concept_of.clear()
        self._taught_by.clear()
        for instance, concept in state.get("concept_of", []):
            self.observe(str(concept), str(instance))
        self._taught_by.update((str(instance), int(line)) for instance, line in state.get("taught_by", [])
                               if instance in self._concept_of)
