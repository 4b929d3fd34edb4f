"""`AnalysisService`: verdicts for events, stored as analyses; operators' corrections through `FeedbackLearner`.

The API's `/v1/analyze` and `/v1/feedback`, and the ingest path (`route.ingest_task`, anomaly by default),
call this; the routing itself is `AdaptiveRouter`'s. Without `route.model_dir` the router is the default
one that ships inside logai (`logai/route/default_router/`, trained by `pipelines/train_default_router.py`).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from logai import metrics
from logai.background import lower_this_thread
from logai.config import RouteConfig, Settings
from logai.events import Event
from logai.paths import DEFAULT_ROUTER
from logai.route.budget import LlmBudget
from logai.route.cache import VerdictCache
from logai.route.feedback import FeedbackLearner
from logai.route.router import AdaptiveRouter, Verdict, model_input
from logai.store.store import EventStore

log = logging.getLogger(__name__)


def build_router(settings: Settings) -> AdaptiveRouter:
    """The configured router (the shipped default when no `route.model_dir`), with the configured LLM
    unless `route.llm` is off."""
    config: RouteConfig = settings.route
    from logai.route.training import load_router

    backend = None
    if config.llm:
        from logai.llm.factory import LazyBackend

        backend = LazyBackend(settings.llm)
    budget = LlmBudget(config.max_llm_calls_per_s, config.max_llm_calls_per_day)
    return load_router(config.model_dir or DEFAULT_ROUTER, backend, k=config.k, statistic=config.statistic,
                       mc_screen=config.mc_screen, budget=budget, cache=VerdictCache(config.cache_size),
                       llm_name=settings.llm.model or settings.llm.backend)


@dataclass
class Decided:
    """A batch's verdicts before they are stored: `rows` (for `EventStore`, without event ids) follow
    `verdicts`, which follow `events`; `defer`: pending verdicts are queued for review once stored."""

    task: str
    events: list[Event]
    verdicts: list[Verdict]
    rows: list[dict[str, Any]]
    evidence: Sequence[dict[str, Any] | None] | None
    defer: bool


class AnalysisService:
    """The route stage: verdicts, stored. Ingest asks with `defer_llm`: the small model's verdict is stored at
    once and what the LLM should see is queued for a reviewer thread (`start_reviews`, started by `serve` and
    `daemon`), which replaces the stored verdict with the LLM's; a slow LLM never holds up ingestion.

    Without a store (`logai analyze`, evaluations) verdicts are returned with analysis id 0 and not kept,
    and there is no feedback."""

    def __init__(self, router: AdaptiveRouter, store: EventStore | None = None, state_dir: Path | None = None):
        self.router = router
        self.store = store
        self._lock = threading.Lock()  # the small models are not re-entrant (feedback re-fits them)
        # re-applies stored corrections
        self.learner = FeedbackLearner(router, store, state_dir) if store is not None else None
        self._reviews: queue.Queue[tuple[int, Event, Verdict, dict[str, Any] | None] | None] | None = None
        self._reviewer: threading.Thread | None = None
        self._ingest_idle = threading.Event()  # cleared while a door has a backlog (`hold_reviews`)
        self._ingest_idle.set()
        self.on_review: list[Callable[[int, Event, Verdict], None]] = []  # each LLM review that changed a label
        # each correction stored and applied; what a listener returns is added to the correction's answer
        self.on_correction: list[Callable[[dict[str, Any]], dict[str, Any] | None]] = []
        self._syncer: threading.Thread | None = None  # `start_feedback_sync`
        self._sync_stopping = threading.Event()

    def start_reviews(self, max_pending: int = 1000) -> None:
        """Start the thread that has the LLM review deferred verdicts (at most `max_pending` wait; past that a
        verdict keeps the small model's answer, counted in logai_route_reviews_dropped_total)."""
        if self._reviews is None and self.router.backend is not None:
            self._reviews = queue.Queue(max_pending)
            self._reviewer = threading.Thread(target=self._review_loop, args=(self._reviews,), name="llm-reviews",
                                              daemon=True)
            self._reviewer.start()

    def hold_reviews(self, held: bool) -> None:
        """Hold the LLM's reviews while a door catches up with a backlog (the daemon behind its topic), and
        let them go on once it has: in one process the LLM's generation takes the interpreter from
        ingestion (measured: a fifth of the daemon's lines/s), and a review can wait where lines cannot."""
        if held:
            self._ingest_idle.clear()
        else:
            self._ingest_idle.set()

    def stop_reviews(self, timeout: float = 30.0) -> None:
        """Let the reviewer finish the review in hand and stop (pending ones keep the small model's verdict):
        a process must not exit while that thread is inside the model."""
        reviews, self._reviews = self._reviews, None
        self._ingest_idle.set()
        if reviews is not None:
            while True:
                try:
                    reviews.get_nowait()
                except queue.Empty:
                    break
            reviews.put(None)
            if self._reviewer is not None:
                self._reviewer.join(timeout)

    def _review_loop(self, reviews: queue.Queue) -> None:
        lower_this_thread()  # the LLM generates after ingestion and the API, not beside them
        while True:
            item = reviews.get()
            self._ingest_idle.wait()
            if item is None or self._reviews is not reviews:  # stopped while it waited
                return
            analysis_id, event, verdict, evidence = item
            try:
                store = self._stored()[0]
                reviewed = self.router.review(verdict, event, evidence)
                stored = store.analysis(analysis_id)
                if stored is not None:
                    store.update_analysis(analysis_id, reviewed.label, reviewed.model, reviewed.confidence,
                                               {**stored["provenance"], **reviewed.provenance()})
                    if reviewed.label != stored["label"]:
                        for listener in self.on_review:
                            listener(analysis_id, event, reviewed)
            except Exception:  # one bad review must not stop the thread
                log.exception("LLM review of analysis %d failed; the small model's verdict stands", analysis_id)

    def analyze(self, events: Sequence[Event], task: str, *, event_ids: Sequence[int | None] | None = None,
                choices: Sequence[str] | Sequence[Sequence[str] | None] | None = None,
                evidence: dict[str, Any] | Sequence[dict[str, Any] | None] | None = None, defer_llm: bool = False
                ) -> list[tuple[int, Verdict]]:
        """Verdicts for `events`, stored; returns (analysis id, verdict) pairs in order. `choices`: the allowed
        labels, for every event or per event. `evidence`: one dict for every event, or one per event (the
        stream's signals). `defer_llm`: see the class."""
        decided = self.decide(events, task, choices=choices, evidence=evidence, defer_llm=defer_llm)
        if self.store is None:
            return [(0, verdict) for verdict in decided.verdicts]
        ids = self.store.add_analyses([{**row, "event_id": event_ids[i] if event_ids else None}
                                       for i, row in enumerate(decided.rows)])
        return self.record(decided, ids)

    def decide(self, events: Sequence[Event], task: str, *,
               choices: Sequence[str] | Sequence[Sequence[str] | None] | None = None,
               evidence: dict[str, Any] | Sequence[dict[str, Any] | None] | None = None, defer_llm: bool = False
               ) -> Decided:
        """Verdicts for `events` and their rows, not stored: the ingest path stores them with the events, in
        the same transaction (`IngestService.submit`), then calls `record`."""
        per_event = [evidence] * len(events) if isinstance(evidence, dict) else evidence
        allowed = _per_event_choices(choices, len(events))
        with self._lock:
            verdicts = self.router.analyze(events, task, choices=allowed, evidence=per_event, defer_llm=defer_llm)
        provenances: dict[int, dict[str, Any]] = {}  # events of one input share their verdict: its fields once
        rows = [{"task": task, "label": v.label, "model": v.model, "confidence": v.confidence,
                 "provenance": {**(provenances.get(id(v)) or provenances.setdefault(id(v), v.provenance())),
                                "source": e.source, "log": (e.content or e.raw)[:1000], "input": v.input[:4000],
                                "template_id": e.template_id, "evidence": per_event[i] if per_event else None}}
                for i, (e, v) in enumerate(zip(events, verdicts, strict=True))]
        return Decided(task, list(events), verdicts, rows, per_event, defer_llm and self._reviews is not None)

    def record(self, decided: Decided, ids: Sequence[int | None]) -> list[tuple[int, Verdict]]:
        """`decided`'s verdicts once stored as analyses `ids` (None: not stored, its event was a duplicate): the
        pending ones are queued for the LLM's review. Returns the stored (analysis id, verdict) pairs."""
        pairs = []
        for i, (analysis_id, verdict) in enumerate(zip(ids, decided.verdicts, strict=True)):
            if analysis_id is None:
                continue
            pairs.append((analysis_id, verdict))
            if verdict.llm_pending and decided.defer and self._reviews is not None:
                try:
                    self._reviews.put_nowait((analysis_id, decided.events[i], verdict,
                                              decided.evidence[i] if decided.evidence else None))
                except queue.Full:
                    metrics.REVIEWS_DROPPED.labels(decided.task).inc()
                    self.router.forget_unreviewed(verdict)
        return pairs

    def feedback(self, event: Event, task: str, label: str, reason: str = "", who: str = "") -> dict[str, Any]:
        """Correct the verdict of `event`'s input; it takes effect on the next verdict (see `FeedbackLearner`)."""
        key = model_input(self.router.model(task), event)
        learner = self._stored()[1]
        with self._lock:
            row = learner.correct(task, key, label, source=event.source, log_text=event.content or event.raw,
                                  template_id=event.template_id, reason=reason, who=who)
        return self._corrected(row)

    def feedback_on_analysis(self, analysis_id: int, label: str, reason: str = "", who: str = ""
                             ) -> dict[str, Any] | None:
        """Correct a stored verdict (the console's buttons): the exact input it was given is corrected.
        None when there is no such analysis."""
        store, learner = self._stored()
        stored = store.analysis(analysis_id)
        if stored is None:
            return None
        provenance = stored["provenance"]
        key = provenance.get("input") or provenance.get("log", "")
        with self._lock:
            row = learner.correct(stored["task"], key, label, source=provenance.get("source", ""),
                                  log_text=provenance.get("log", ""), template_id=provenance.get("template_id"),
                                  reason=reason, who=who, verdict=(stored["label"], provenance.get("path")))
        return self._corrected(row)

    def _corrected(self, row: dict[str, Any]) -> dict[str, Any]:
        for listener in self.on_correction:  # incidents made of verdicts it clears resolve
            try:
                row.update(listener(row) or {})
            except Exception:  # the correction stands; a listener's failure is its own
                log.exception("a listener of correction %s failed", row.get("id"))
        return row

    def current_label(self, task: str, key: str) -> str:
        """The label the input `key` gets now (its correction, cached verdict or the small model's; no LLM)."""
        with self._lock:
            return self.router.current_label(task, key)

    def sync_feedback(self) -> list[dict[str, Any]]:
        """Apply the corrections other processes on this store took or undid since the last call (the console's
        `logai serve`, for a `logai daemon`): verdicts follow them, and `on_correction` listeners hear of each
        new one as of one taken here, so this process's incidents they clear resolve. Returns the new ones."""
        learner = self._stored()[1]
        with self._lock:
            rows = learner.sync()
        return [self._corrected(row) for row in rows]

    def start_feedback_sync(self, every_s: float) -> None:
        """Call `sync_feedback` every `every_s` seconds on a thread of its own (`stop_feedback_sync`)."""
        if self.learner is None or self._syncer is not None:
            return
        stopping = self._sync_stopping = threading.Event()

        def loop() -> None:
            while not stopping.wait(every_s):
                try:
                    self.sync_feedback()
                except Exception as exc:  # a store that is down: verdicts go on as they are, and it retries
                    log.warning("could not read corrections from the store (retrying in %.0f s): %s", every_s, exc)

        self._syncer = threading.Thread(target=loop, name="feedback-sync", daemon=True)
        self._syncer.start()

    def stop_feedback_sync(self, timeout: float = 30.0) -> None:
        syncer, self._syncer = self._syncer, None
        self._sync_stopping.set()
        if syncer is not None:
            syncer.join(timeout)

    def undo_feedback(self, feedback_id: int, who: str = "") -> dict[str, Any] | None:
        learner = self._stored()[1]
        with self._lock:
            return learner.undo(feedback_id, who)

    def _stored(self) -> tuple[EventStore, FeedbackLearner]:
        if self.store is None or self.learner is None:
            raise RuntimeError("this AnalysisService keeps no verdicts (no store): reviews and feedback need one")
        return self.store, self.learner

    @property
    def tasks(self) -> dict[str, list[str]]:
        return {task: list(model.labels_) for task, model in self.router.models.items()}


def _per_event_choices(choices: Sequence[str] | Sequence[Sequence[str] | None] | None, count: int
                       ) -> list[Sequence[str] | None] | None:
    """One label set for every event (a list of strings) or one per event, as a list per event."""
    if not choices:
        return None
    if all(isinstance(choice, str) for choice in choices):
        return [cast(Sequence[str], choices)] * count  # a list of strings is one label set
    return list(choices)  # one label set (or None) per event
