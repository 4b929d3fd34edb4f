"""The semantics stage of the pipeline: each parsed event gets typed parameters, concepts and a
conceptualized template, from one annotator (and knowledge base) per source.

`process(events)` annotates a batch in place and learns from it; `process(events, learn=False)` only reads
(`/v1/analyze`). Its state per source (the knowledge base) goes out with `to_state` and comes back with
`load_state`, which the pipeline saves beside the miners'.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from logai.config import SemanticsConfig
from logai.events import Event
from logai.semantics.annotator import DEFAULT_MODEL, SemanticAnnotator
from logai.semantics.kb import KnowledgeBase
from logai.semantics.model import PairModel

log = logging.getLogger(__name__)


class SemanticsStage:
    def __init__(self, config: SemanticsConfig, max_content_chars: int = 8192):
        self.config = config
        self.max_content_chars = max_content_chars  # what the miner aligned of a long message
        self.pair_model = PairModel.load(config.model_path or DEFAULT_MODEL)
        self.annotators: dict[str, SemanticAnnotator] = {}

    def annotator(self, source: str) -> SemanticAnnotator:
        """`source`'s annotator, with its own knowledge base."""
        found = self.annotators.get(source)
        if found is None:
            kb = KnowledgeBase(max_instances=self.config.kb_max_instances)
            found = self.annotators[source] = SemanticAnnotator(self.pair_model, kb, self.config.cache_size,
                                                                self.max_content_chars)
        return found

    def process(self, events: Sequence[Event], learn: bool = True) -> None:
        """Annotate `events` in place."""
        for event in events:
            self.annotate(event, learn)

    def annotate(self, event: Event, learn: bool = True) -> None:
        """Annotate one event in place. An event whose semantics fail keeps its template and parameters."""
        annotator = self.annotators.get(event.source) or self.annotator(event.source)
        try:
            annotator.annotate(event, learn)
        except Exception as exc:  # semantics add meaning; they never cost a line
            log.warning("semantics failed on a line of %s: %r", event.source, exc)

    def pairs(self, event: Event) -> list[tuple[str, str]]:
        """The (concept, instance) pairs `event`'s message states."""
        return self.annotator(event.source).pairs(event)

    def to_state(self, source: str) -> dict[str, Any] | None:
        annotator = self.annotators.get(source)
        return annotator.kb.to_state() if annotator is not None else None

    def load_state(self, source: str, state: dict[str, Any]) -> None:
        self.annotator(source).kb.load_state(state)

    def drop(self, source: str) -> None:
        self.annotators.pop(source, None)
