"""`AnalysisService`: verdicts for events, stored as analyses; operator feedback into the case library.

The API's `/v1/analyze` and `/v1/feedback`, and the ingest path (when `route.ingest_task` is set), call this;
the routing itself is `AdaptiveRouter`'s.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from logai.config import RouteConfig, Settings
from logai.events import Event
from logai.route.budget import LlmBudget
from logai.route.cache import VerdictCache
from logai.route.cases import Case
from logai.route.router import AdaptiveRouter, Verdict
from logai.store.store import EventStore


def build_router(settings: Settings) -> AdaptiveRouter | None:
    """The configured router (None when no `route.model_dir`), with the configured LLM unless disabled."""
    config: RouteConfig = settings.route
    if config.model_dir is None:
        return None
    from logai.route.training import load_router

    backend = None
    if config.use_llm:
        from logai.llm.factory import build_backend

        backend = build_backend(settings.llm)
    budget = LlmBudget(config.max_llm_calls_per_s, config.max_llm_calls_per_day)
    return load_router(config.model_dir, backend, k=config.k, statistic=config.statistic, budget=budget,
                       cache=VerdictCache(config.cache_size), llm_name=settings.llm.model or settings.llm.backend)


class AnalysisService:
    def __init__(self, router: AdaptiveRouter, store: EventStore, library_dir: Path | None = None):
        self.router = router
        self.store = store
        self.library_dir = library_dir  # where feedback-grown cases are saved (the router folder's cases/)
        self._lock = threading.Lock()  # one LLM in-process: verdicts are computed one batch at a time

    def analyze(self, events: Sequence[Event], task: str, *, event_ids: Sequence[int | None] | None = None,
                choices: Sequence[str] | None = None, evidence: dict[str, Any] | None = None
                ) -> list[tuple[int, Verdict]]:
        """Verdicts for `events`, stored; returns (analysis id, verdict) pairs in order."""
        with self._lock:
            verdicts = self.router.analyze(events, task, choices=[choices] * len(events) if choices else None,
                                           evidence=[evidence] * len(events) if evidence else None)
        rows = [{"event_id": event_ids[i] if event_ids else None, "task": task, "label": v.label,
                 "model": v.model, "confidence": v.confidence,
                 "provenance": {**v.provenance(), "source": e.source, "log": (e.content or e.raw)[:1000],
                                "template_id": e.template_id}}
                for i, (e, v) in enumerate(zip(events, verdicts, strict=True))]
        ids = self.store.add_analyses(rows)
        return list(zip(ids, verdicts, strict=True))

    def feedback(self, event: Event, task: str, label: str, reason: str = "") -> Case:
        """The correct label becomes a case at once; the library is saved so a restart keeps it."""
        with self._lock:
            case = self.router.feedback(event, task, label, reason)
            if self.library_dir is not None and self.router.library is not None:
                self.router.library.save(self.library_dir)
            return case

    @property
    def tasks(self) -> dict[str, list[str]]:
        return {task: list(model.labels_) for task, model in self.router.models.items()}
