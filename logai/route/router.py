"""`AdaptiveRouter`: the small model answers first; the LLM only where the small model is unsure.

Per batch of events: verdict cache → small model with MC dropout (one batched forward) → items whose
uncertainty is above the task's threshold go to the LLM with the top-k retrieved error-prone cases, under a
JSON constraint `{"label", "reason"}`. When the LLM is down, over budget or answers off-contract, the small
model's verdict stands and says so (`path="slm_fallback"`). Every verdict keeps its provenance.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from logai import metrics
from logai.events import Event
from logai.llm.backend import Backend
from logai.llm.types import GenerationRequest, LLMError, SamplingParams
from logai.route.budget import LlmBudget
from logai.route.cache import VerdictCache
from logai.route.cases import Case, CaseLibrary
from logai.route.prompt import build_messages, parse_answer, verdict_constraint
from logai.route.tasks import task as task_spec
from logai.slm.inputs import event_text, leveled_text
from logai.slm.uncertainty import SmallModel

log = logging.getLogger(__name__)
Path_ = Literal["slm", "llm", "slm_fallback", "feedback"]
CaseMode = Literal["retrieved", "random", "none"]


@dataclass
class Verdict:
    task: str
    label: str
    path: Path_  # who decided: the small model alone, the LLM, or the small model because the LLM could not
    confidence: float  # the small model's mean probability of its label (the LLM's answer has none)
    uncertainty: float  # the routing statistic (0 = sure)
    slm_label: str
    model: str  # the model whose answer this is
    reason: str = ""
    cases: list[dict[str, Any]] = field(default_factory=list)  # cases shown to the LLM: label, similarity
    llm_error: str | None = None
    cached: bool = False
    llm_pending: bool = False  # the LLM should see it and will (`review`), off the ingest path
    input: str = ""  # what the small model read (`model_input`): the key verdicts are cached and corrected by
    latency_s: float = 0.0
    llm_tokens: int = 0

    def provenance(self) -> dict[str, Any]:
        # shallow, field by field: `dataclasses.asdict` deep-copies, and this runs for every stored verdict
        return {name: getattr(self, name) for name in _PROVENANCE_FIELDS}


_PROVENANCE_FIELDS = tuple(f.name for f in fields(Verdict) if f.name not in ("task", "label", "input"))


@dataclass
class LlmAnswer:
    label: str
    reason: str
    tokens: int
    cases: list[tuple[Case, float]]


class AdaptiveRouter:
    def __init__(self, models: dict[str, SmallModel], thresholds: dict[str, float],
                 library: CaseLibrary | None = None, backend: Backend | None = None, *, k: int = 5,
                 statistic: str = "entropy", budget: LlmBudget | None = None, cache: VerdictCache | None = None,
                 case_mode: CaseMode = "retrieved", max_tokens: int = 64, seed: int = 0, llm_name: str = "llm",
                 llm_accuracy: dict[str, float] | None = None, slm_accuracy: dict[str, float] | None = None,
                 mc_screen: float | None = 0.5):
        self.models = models
        self.thresholds = thresholds
        self.library = library
        self.backend = backend
        self.k = k
        self.statistic = statistic
        self.budget = budget
        self.cache = cache if cache is not None else VerdictCache()
        self.case_mode = case_mode
        self.max_tokens = max_tokens
        self.seed = seed
        self.llm_name = llm_name
        # the LLM's measured accuracy per task on the items it would get: an item is routed only when this
        # beats the small model's own confidence in it (a task with no estimate routes on uncertainty alone)
        self.llm_accuracy = dict(llm_accuracy or {})
        self.base_llm_accuracy = dict(self.llm_accuracy)  # as measured offline; feedback moves llm_accuracy
        # the small model's own accuracy on those same items: calibrated confidence can understate it there
        # (the shipped anomaly head: 0.99 right on the 40 dev logs it is least sure of, where the LLM was 0.78),
        # so an LLM that did not beat it on them gets no item of that tail
        self.slm_accuracy = dict(slm_accuracy or {})
        self.overrides: dict[tuple[str, str], tuple[str, int]] = {}  # (task, input) -> operator's label, feedback id
        # MC dropout only where a deterministic pass is at least this share of the threshold unsure (None: on
        # every item); an item below it is not routed either way, and is ten forwards cheaper
        self.mc_screen = mc_screen

    def model(self, task: str) -> SmallModel:
        try:
            return self.models[task]
        except KeyError:
            raise KeyError(f"no small model for task {task!r}; trained tasks: {sorted(self.models)}") from None

    # -- the route -------------------------------------------------------------------------------------
    def analyze(self, events: Sequence[Event], task: str, *, choices: Sequence[Sequence[str] | None] | None = None,
                evidence: Sequence[dict[str, Any] | None] | None = None, defer_llm: bool = False) -> list[Verdict]:
        """One verdict per event. `choices[i]` restricts event i's labels; `evidence[i]` is shown to the LLM.
        `defer_llm`: the small model's verdict is returned for every event, and those the LLM should see are
        marked `llm_pending` (for `review`, off the ingest path)."""
        model = self.model(task)
        texts = [model_input(model, e) for e in events]
        keys = [(task, tuple(allowed) if choices and (allowed := choices[i]) else None, text)
                for i, text in enumerate(texts)]
        verdicts: list[Verdict | None] = [None] * len(events)
        todo: list[int] = []
        hits: dict[tuple[str, tuple[str, ...] | None, str], Verdict] = {}  # one copy per cached input and batch
        cached = 0
        for i, key in enumerate(keys):
            corrected = self.overrides.get((task, texts[i]))
            if corrected is not None:
                verdicts[i] = self._corrected(task, corrected, choices[i] if choices else None, texts[i])
                continue
            copy = hits.get(key)
            if copy is None and (hit := self.cache.get(key)) is not None:
                # a shallow copy, shared by the batch's events of this input: a deep one (`asdict`) per
                # repeated line was a fifth of the daemon's time, and a copy per line still a tenth
                copy = hits[key] = replace(hit, cached=True, latency_s=0.0, cases=list(hit.cases))
            if copy is not None:
                verdicts[i], cached = copy, cached + 1
            else:
                todo.append(i)
        if cached:
            metrics.VERDICTS.labels(task, "cache").inc(cached)
        if todo:
            started = time.perf_counter()
            first: dict[tuple[str, tuple[str, ...] | None, str], int] = {}  # duplicates in a batch: decided once
            for i in todo:
                first.setdefault(keys[i], i)
            unique = list(first.values())
            threshold = self.thresholds.get(task, float("inf"))
            mc = model.predict_mc([texts[i] for i in unique],
                                  allowed=[choices[i] for i in unique] if choices else None,
                                  screen=self.screen(threshold))
            uncertainty = mc.uncertainty(self.statistic)
            slm_seconds = (time.perf_counter() - started) / len(unique)
            decided: dict[tuple, Verdict] = {}
            for row, i in enumerate(unique):
                label = mc.labels[row]
                confidence = float(mc.probs[row].max())
                verdict = Verdict(task, label, "slm", confidence, float(uncertainty[row]), label, f"slm:{task}",
                                  reason=slm_reason(events[i], label, confidence, evidence[i] if evidence else None),
                                  latency_s=slm_seconds, input=texts[i])
                if uncertainty[row] > threshold and self.llm_pays(task, confidence) and self.backend is not None:
                    if defer_llm:
                        verdict.llm_pending = True
                    else:
                        self._escalate(verdict, events[i], task,
                                       self._labels(model, choices[i] if choices else None),
                                       evidence[i] if evidence else None)
                metrics.VERDICTS.labels(task, verdict.path).inc()
                metrics.ROUTE_SECONDS.labels(verdict.path).observe(verdict.latency_s)
                # a pending verdict is cached as the small model's answer (the next events of that input need no
                # forward passes); the review replaces it in the cache, `forget_unreviewed` when it is dropped
                self.cache.put(keys[i], replace(verdict, llm_pending=False) if verdict.llm_pending else verdict)
                decided[keys[i]] = verdict
            for i in todo:
                verdicts[i] = decided[keys[i]]
        decided_all = [v for v in verdicts if v is not None]
        assert len(decided_all) == len(events)  # each one is corrected, cached or decided above
        return decided_all

    def review(self, verdict: Verdict, event: Event, evidence: dict[str, Any] | None = None) -> Verdict:
        """The LLM's answer on a verdict `analyze(defer_llm=True)` marked pending (a new `Verdict`; over the
        budget or with the LLM down, the small model's, marked `slm_fallback`). Cached like any verdict."""
        reviewed = replace(verdict, llm_pending=False, cases=list(verdict.cases))
        model = self.model(verdict.task)
        self._escalate(reviewed, event, verdict.task, list(model.labels_), evidence)
        metrics.VERDICTS.labels(verdict.task, reviewed.path).inc()
        self.cache.put((verdict.task, None, verdict.input), reviewed)
        return reviewed

    def forget_unreviewed(self, verdict: Verdict) -> None:
        """A pending verdict whose review was dropped leaves the cache, so its input is routed again later."""
        self.cache.forget((verdict.task, None, verdict.input))

    def _corrected(self, task: str, corrected: tuple[str, int], choices: Sequence[str] | None, key: str
                   ) -> Verdict:
        label, feedback_id = corrected
        if choices and label not in choices:  # the question offers other labels: the correction does not apply
            label = choices[0]
        metrics.VERDICTS.labels(task, "feedback").inc()
        return Verdict(task, label, "feedback", 1.0, 0.0, label, "operator",
                       reason=f"corrected by an operator (feedback #{feedback_id})", input=key)

    def current_label(self, task: str, key: str) -> str:
        """The label the router gives the input `key` now, without asking the LLM (what a correction replaces)."""
        model = self.model(task)
        corrected = self.overrides.get((task, key))
        if corrected is not None:
            return corrected[0]
        cached = self.cache.get((task, None, key))
        return cached.label if cached is not None else model.predict([key])[0]

    def screen(self, threshold: float) -> float | None:
        """The deterministic uncertainty below which an item skips the MC passes (None: none skips them)."""
        if self.mc_screen is None:
            return None
        return min(threshold, 1.0) * self.mc_screen if threshold != float("inf") else 1.0 + 1e-9

    def llm_pays(self, task: str, confidence: float) -> bool:
        """Whether the LLM is expected to beat the small model on an item it is `confidence` sure of: its
        measured accuracy beats that confidence, and beat the small model on the items it was measured on."""
        accuracy = self.llm_accuracy.get(task)
        if accuracy is None:
            return True
        head = self.slm_accuracy.get(task)
        return accuracy > confidence and (head is None or accuracy > head)

    @staticmethod
    def _labels(model: SmallModel, choices: Sequence[str] | None) -> list[str]:
        return list(choices) if choices else list(model.labels_)

    def _escalate(self, verdict: Verdict, event: Event, task: str, labels: list[str],
                  evidence: dict[str, Any] | None) -> None:
        if self.backend is None:
            return  # no LLM configured: the small model decides everything
        if self.budget is not None and not self.budget.try_acquire():
            verdict.path, verdict.llm_error = "slm_fallback", "over the LLM call budget"
            return
        started = time.perf_counter()
        try:
            answer = self.ask_llm(event, task, labels, evidence=evidence)
        except (LLMError, ValueError) as exc:
            log.warning("LLM unavailable for a %s verdict, the small model's answer stands: %s", task, exc)
            verdict.path, verdict.llm_error = "slm_fallback", str(exc)[:300]
            return
        except Exception as exc:  # whatever the model raises, the small model's verdict stands
            log.exception("LLM failed on a %s verdict; the small model's answer stands", task)
            verdict.path, verdict.llm_error = "slm_fallback", f"{type(exc).__name__}: {exc}"[:300]
            return
        verdict.latency_s += time.perf_counter() - started
        verdict.path, verdict.label, verdict.reason = "llm", answer.label, answer.reason
        verdict.model, verdict.llm_tokens = self.llm_name, answer.tokens
        verdict.cases = [{"label": c.label, "similarity": round(s, 4), "log": c.log[:200]} for c, s in answer.cases]

    def cases_for(self, event: Event, task: str, mode: CaseMode | None = None) -> list[tuple[Case, float]]:
        mode = mode or self.case_mode
        if self.library is None or mode == "none" or self.k == 0:
            return []
        if mode == "random":
            seed = self.seed + sum(map(ord, event.content or event.raw))  # fixed per log, varied across logs
            return [(c, 0.0) for c in self.library.sample(self.k, task, seed)]
        query = Case(log=event.content or event.raw, template=event.conceptualized or event.template or "",
                     label="", task=task).key_text()
        return self.library.search(query, self.k, task)

    def ask_llm(self, event: Event, task: str, labels: Sequence[str], *, evidence: dict[str, Any] | None = None,
                mode: CaseMode | None = None) -> LlmAnswer:
        """The LLM's verdict on one event with the task's cases (raises LLMError / ValueError)."""
        if self.backend is None:
            raise LLMError("no LLM backend configured")
        found = self.cases_for(event, task, mode)
        ordered = [c for c, _ in sorted(found, key=lambda pair: pair[1])]  # most similar last
        messages = build_messages(task_spec(task), labels, event, ordered, evidence)
        request = GenerationRequest(messages=messages, constraint=verdict_constraint(labels),
                                    sampling=SamplingParams(max_tokens=self.max_tokens, temperature=0.0))
        result = self.backend.generate([request])[0]
        metrics.LLM_TOKENS.labels("prompt").inc(result.prompt_tokens)
        metrics.LLM_TOKENS.labels("completion").inc(result.completion_tokens)
        label, reason = parse_answer(result.text, labels)
        return LlmAnswer(label, reason, result.prompt_tokens + result.completion_tokens, found)


def model_input(model: Any, event: Event) -> str:
    """What `model` reads of `event`: the level and text (`HeadClassifier`), or the text alone."""
    return leveled_text(event) if getattr(model, "input_kind", "text") == "level_text" else event_text(event)


def slm_reason(event: Event, label: str, confidence: float, evidence: dict[str, Any] | None = None) -> str:
    """Why the small model said `label`, in the words an operator checks first: its confidence, the level,
    and what the stream's detectors said about the template."""
    level = f" {event.level}" if event.level else ""
    reason = f"small model: {label} at p={confidence:.2f} for this{level} message"
    signals = (evidence or {}).get("signals")
    return f"{reason}; stream: {', '.join(signals)}" if signals else reason
