"""Training the router for one task: fine-tune the small model on train, then on dev calibrate its
temperature and routing threshold and turn its mistakes and doubts into error-prone cases.

Inputs are parsed events (the same `Pipeline` as the service), so the small model reads conceptualized
templates with typed parameters. `save_router` / `load_router` keep everything in one folder:

    <folder>/router.json                 tasks, thresholds, statistic, training figures
    <folder>/<task>/                     the small model of each task (weights, labels, manifest)
    <folder>/cases/                      the case library (FAISS index + JSON lines)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from logai.events import Event
from logai.llm.backend import Backend
from logai.paths import read_manifest
from logai.route.cases import Case, CaseLibrary
from logai.route.reasons import write_reasons
from logai.route.threshold import routed_share, threshold_for_accuracy, threshold_for_budget
from logai.slm.classifier import SlmClassifier
from logai.slm.inputs import event_text

if TYPE_CHECKING:
    from logai.slm.embeddings import Embedder
    from logai.slm.uncertainty import SmallModel

log = logging.getLogger(__name__)
ROUTER_FILE = "router.json"


@dataclass
class LabelledLog:
    """One distinct log line with its gold label; `weight` = how many items ask about it."""

    log: str
    label: str
    weight: float = 1.0
    choices: list[str] | None = None


class LineParser(Protocol):
    """What training needs of `logai.pipeline.Pipeline` (handed in: a stage never imports the pipeline)."""

    def parse_text(self, text: str, *, source: str, format_name: str, line: int) -> Event: ...


def parse_logs(logs: Sequence[str], pipeline: LineParser, source: str, format_name: str = "generic"
               ) -> list[Event]:
    return [pipeline.parse_text(text, source=source, format_name=format_name, line=i + 1)
            for i, text in enumerate(logs)]


@dataclass
class TaskTraining:
    model: SlmClassifier
    threshold: float
    cases: list[Case]
    report: dict[str, Any] = field(default_factory=dict)
    dev: list[tuple[str, str, float]] = field(default_factory=list)  # (small-model input, label, weight)


def train_task(task: str, train: Sequence[LabelledLog], dev: Sequence[LabelledLog], pipeline: LineParser, *,
               classifier: SlmClassifier | None = None, statistic: str = "entropy", budget: float = 0.3,
               llm_accuracy: float | None = 0.8, case_share: float = 0.3,
               reason_backend: Backend | None = None) -> TaskTraining:
    """Fit the small model, calibrate the threshold on dev (best expected accuracy with an assumed LLM
    accuracy, within `budget`; or exactly `budget` when `llm_accuracy` is None) and collect the cases:
    every dev log the model gets wrong, and the `case_share` it is least sure about."""
    train_events = parse_logs([x.log for x in train], pipeline, f"train-{task}")
    dev_events = parse_logs([x.log for x in dev], pipeline, f"train-{task}")
    model = classifier or SlmClassifier()
    model.fit([event_text(e) for e in train_events], [x.label for x in train],
              [event_text(e) for e in dev_events], [x.label for x in dev],
              sample_weight=[x.weight for x in train])
    mc = model.predict_mc([event_text(e) for e in dev_events], allowed=[x.choices for x in dev])
    uncertainty = mc.uncertainty(statistic)
    correct = np.array([p == x.label for p, x in zip(mc.labels, dev, strict=True)])
    weights = [x.weight for x in dev]
    if llm_accuracy is None:
        threshold = threshold_for_budget(uncertainty, budget)
    else:
        threshold = threshold_for_accuracy(uncertainty, correct, llm_accuracy, budget, weights)
        if not np.isfinite(threshold) and len(uncertainty):
            # nothing worth routing on dev: route only what the model is less sure of than anything there
            threshold = float(np.max(uncertainty))
    doubtful = np.quantile(uncertainty, 1 - case_share) if len(uncertainty) and case_share > 0 else np.inf
    cases = [Case(log=x.log, template=e.conceptualized or e.template or "", label=x.label,
                  small_model_label=p, task=task, meta={"uncertainty": round(float(u), 4), "origin": "dev"})
             for x, e, p, u, ok in zip(dev, dev_events, mc.labels, uncertainty, correct, strict=True)
             if not ok or u > threshold or u >= doubtful]
    write_reasons(cases, reason_backend)
    report = {"train_logs": len(train), "dev_logs": len(dev), "labels": model.labels_,
              "dev_accuracy": float(np.average(correct, weights=weights)), "threshold": threshold,
              "dev_routed_share": routed_share(uncertainty, threshold), "cases": len(cases),
              "temperature": model.temperature_, "epochs_run": len(model.history_)}
    log.info("router task %s: %s", task, report)
    return TaskTraining(model, threshold, cases, report,
                        [(event_text(e), x.label, x.weight) for x, e in zip(dev, dev_events, strict=True)])


def save_router(folder: str | Path, trained: dict[str, TaskTraining], library: CaseLibrary,
                statistic: str = "entropy", **manifest: Any) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for task, result in trained.items():
        result.model.save(folder / task, task=task, router=result.report)
    library.save(folder / "cases")
    record = {"tasks": {t: {"threshold": r.threshold, **r.report} for t, r in trained.items()},
              "statistic": statistic, **manifest}
    (folder / ROUTER_FILE).write_text(json.dumps(record, indent=2, default=str))
    return folder


def load_router(folder: str | Path, backend: Backend | None = None, embedder: Embedder | None = None,
                **options: Any):
    """An `AdaptiveRouter` from a folder written by `save_router` (`options` go to the router)."""
    from logai.route.router import AdaptiveRouter
    from logai.slm.embeddings import shared_embedder

    folder = Path(folder)
    record = read_manifest(folder, ROUTER_FILE, "trained router")
    embedder = embedder or shared_embedder()
    models = {task: load_small_model(folder / task, embedder) for task in record["tasks"]}
    thresholds = {task: float(info["threshold"]) for task, info in record["tasks"].items()}
    library = CaseLibrary.load(folder / "cases", embedder)
    options.setdefault("statistic", record.get("statistic", "entropy"))
    for figure in ("llm_accuracy", "slm_accuracy"):  # measured per task by `record_llm_accuracy`, when it ran
        options.setdefault(figure, {task: float(info[figure]) for task, info in record["tasks"].items()
                                    if info.get(figure) is not None})
    return AdaptiveRouter(models, thresholds, library, backend, **options)


def load_small_model(path: Path, embedder: Embedder | None = None) -> SmallModel:
    """A task's small model: a `HeadClassifier` (head.json) or a fine-tuned `SlmClassifier` (slm.json)."""
    from logai.slm.head import MANIFEST, HeadClassifier

    if (path / MANIFEST).is_file():
        return HeadClassifier.load(path, embedder)
    return SlmClassifier.load(path)
