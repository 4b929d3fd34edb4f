"""The contextual knowledge base: which concept an instance was seen with, across the stream.

SemParser's implicit semantics: a block id stated once as `block blk_1` is still a block when a later
message mentions `blk_1` bare. Both maps are bounded (least recently used first out) and persisted with
the parser state.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class KnowledgeBase:
    def __init__(self, max_instances: int = 200_000, max_per_concept: int = 1000):
        self.max_instances = max_instances
        self.max_per_concept = max_per_concept
        # insertion-ordered: the oldest statements go first when the base is full (approximate LRU,
        # cheap enough to run on every line)
        self._concept_of: dict[str, str] = {}
        self._instances: dict[str, OrderedDict[str, None]] = {}

    def __len__(self) -> int:
        return len(self._concept_of)

    def observe(self, concept: str, instance: str) -> None:
        """Record that `instance` was stated as an instance of `concept`."""
        if self._concept_of.get(instance) == concept:
            return
        self._concept_of.pop(instance, None)
        self._concept_of[instance] = concept
        members = self._instances.setdefault(concept, OrderedDict())
        members[instance] = None
        if len(members) > self.max_per_concept:
            members.popitem(last=False)
        if len(self._concept_of) > self.max_instances:
            self._evict(max(1, self.max_instances // 10))

    def _evict(self, count: int) -> None:
        for instance in list(self._concept_of)[:count]:
            concept = self._concept_of.pop(instance)
            self._instances.get(concept, {}).pop(instance, None)

    def concept_of(self, instance: str) -> str | None:
        return self._concept_of.get(instance)

    def instances_of(self, concept: str) -> list[str]:
        return list(self._instances.get(concept, ()))

    def to_state(self) -> dict[str, Any]:
        return {"concept_of": list(self._concept_of.items())}

    def load_state(self, state: dict[str, Any]) -> None:
        self._concept_of.clear()
        self._instances.clear()
        for instance, concept in state.get("concept_of", []):
            self.observe(str(concept), str(instance))
