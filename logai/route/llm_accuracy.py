"""How good the LLM is where the router would send it: measured, not assumed.

AdaptiveLog routes the items the small model is least sure of. Whether that helps depends on the LLM's
accuracy on exactly those items, with their retrieved cases, which differs by task and by LLM: a 135M model
overrode correct small-model answers on a quarter of LogEval's diagnosis items when an accuracy of 0.8 was
assumed. So the router routes an item only when the measured accuracy beats the small model's confidence in
it, and beat the small model's own answers on the same items (`AdaptiveRouter.llm_pays`); a weak LLM then gets
(almost) nothing, a strong one the uncertain tail.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from logai.events import Event
from logai.llm.backend import Backend
from logai.llm.types import LLMError
from logai.route.router import AdaptiveRouter
from logai.slm.inputs import split_leveled

log = logging.getLogger(__name__)


def measure_llm_accuracy(router: AdaptiveRouter, task: str, inputs: Sequence[str], labels: Sequence[str],
                         weights: Sequence[float] | None = None, count: int = 40) -> dict[str, float | int]:
    """The LLM's weighted accuracy on the `count` inputs (small-model inputs, e.g. `leveled_text`) the small
    model is least sure of, each asked with its retrieved cases, beside the small model's own accuracy on
    them (`slm_accuracy`). An answer outside the label set, or none (the LLM down), counts as wrong."""
    model = router.model(task)
    uncertainty = model.predict_mc(list(inputs)).uncertainty(router.statistic)
    chosen = np.argsort(-uncertainty, kind="stable")[:count]
    w = np.ones(len(inputs)) if weights is None else np.asarray(weights, dtype=float)
    own = model.predict([inputs[i] for i in chosen])
    head_right = sum(w[i] * (said == labels[i]) for i, said in zip(chosen, own, strict=True))
    right = total = 0.0
    for i in chosen:
        level, text = split_leveled(inputs[i])
        event = Event(raw=text, source="dev", line=1, content=text, template=text, level=level or None)
        try:
            answer = router.ask_llm(event, task, model.labels_).label
        except (LLMError, ValueError) as exc:
            log.info("LLM answer not counted as right: %s", exc)
            answer = None
        right += w[i] * (answer == labels[i])
        total += w[i]
    return {"llm_checked_logs": len(chosen), "llm_accuracy": round(right / total, 4) if total else 0.0,
            "slm_accuracy": round(float(head_right) / total, 4) if total else 0.0}


def record_llm_accuracy(folder: Path, backend: Backend, dev: dict[str, list[tuple[str, str, float]]],
                        count: int = 40) -> dict[str, dict[str, float | int]]:
    """Measure the LLM on each task's dev inputs (input, label, weight) through the router saved in `folder`
    and write the figures into its router.json, where `load_router` reads `llm_accuracy`."""
    from logai.route.training import ROUTER_FILE, load_router

    router = load_router(folder, backend)
    figures = {task: measure_llm_accuracy(router, task, [x[0] for x in rows], [x[1] for x in rows],
                                          [x[2] for x in rows], count)
               for task, rows in dev.items() if rows}
    record = json.loads((folder / ROUTER_FILE).read_text())
    for task, measured in figures.items():
        record["tasks"][task].update(measured)
    (folder / ROUTER_FILE).write_text(json.dumps(record, indent=2, default=str))
    return figures
