"""The contextual knowledge base: which concept an instance was seen with, across the stream.

SemParser's implicit semantics: a block id stated once as `block blk_1` is still a block when a later
message mentions `blk_1` bare. Both maps are bounded (least recently used first out) and persisted with
the parser state.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any


class KnowledgeBase:
    def __init__(self, max_instances: int = 200_000, max_per_concept: int = 1000):
        self.max_instances = max_instances
        self.max_per_concept = max_per_concept
        # oldest statement first out (O(1) per insert); a repeated statement is not moved, which keeps
        # the per-line cost to one lookup (approximate LRU)
        self._concept_of: OrderedDict[str, str] = OrderedDict()
        # concept -> its most recent instances (a bounded deque: O(1) per statement; entries whose concept
        # changed since are filtered out when read)
        self._instances: dict[str, deque[str]] = {}
        self._taught_by: dict[str, int] = {}  # instance -> the line that stated its current concept

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
        members = self._instances.get(concept)
        if members is None:
            members = self._instances[concept] = deque(maxlen=self.max_per_concept)
        members.append(instance)
        if len(concept_of) > self.max_instances:
            self._taught_by.pop(concept_of.popitem(last=False)[0], None)

    def concept_of(self, instance: str) -> str | None:
        return self._concept_of.get(instance)

    def taught_by(self, instance: str) -> int | None:
        """The line that stated `instance`'s concept, when known."""
        return self._taught_by.get(instance)

    def instances_of(self, concept: str) -> list[str]:
        """Recent instances of `concept`, newest last, each once."""
        seen: dict[str, None] = {}
        for instance in self._instances.get(concept, ()):
            if self._concept_of.get(instance) == concept:
                seen.pop(instance, None)
                seen[instance] = None
        return list(seen)

    def to_state(self) -> dict[str, Any]:
        return {"concept_of": list(self._concept_of.items()), "taught_by": list(self._taught_by.items())}

    def load_state(self, state: dict[str, Any]) -> None:
        self._concept_of.clear()
        self._instances.clear()
        self._taught_by.clear()
        for instance, concept in state.get("concept_of", []):
            self.observe(str(concept), str(instance))
        self._taught_by.update((str(instance), int(line)) for instance, line in state.get("taught_by", [])
                               if instance in self._concept_of)
