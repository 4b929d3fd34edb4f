"""Operators' corrections, applied to the running router at once and kept across restarts.

A correction (`/v1/feedback`) is stored with who made it and the label it replaced, then everything the
router learns from corrections is rebuilt from the store's active ones:
- the corrected input itself answers with the operator's label from the next event on (`path="feedback"`),
  so a corrected template never flips back;
- a level-aware head (`HeadClassifier`) remembers the corrections, so their near-duplicates (`neighbour_sim`)
  answer with the operator's label too, and is re-fitted from its shipped weights on its training inputs
  plus the corrections, each weighing as much as a typical training input (about a second; the encoder is
  untouched), so similar lines move; the result is saved as a numbered version under
  `<data_dir>/router/<task>/` and loaded at start-up when it is current;
- each correction is an error-prone case for the LLM's prompt;
- where the LLM gave the corrected verdict (the correction records the verdict's path), its accuracy estimate
  is updated: from the store's corrections, so in every process and after a restart too.
Undo marks the correction undone (the audit keeps it) and rebuilds the same way, so it restores exactly the
state before.
"""

from __future__ import annotations

import json
import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any

from logai import metrics
from logai.route.cases import Case, CaseLibrary
from logai.route.reasons import template_reason
from logai.route.router import AdaptiveRouter
from logai.slm.head import HeadClassifier
from logai.slm.inputs import split_leveled
from logai.store.store import EventStore

log = logging.getLogger(__name__)
KEEP_VERSIONS = 5
STATE = "feedback.json"


class FeedbackLearner:
    def __init__(self, router: AdaptiveRouter, store: EventStore, state_dir: Path | None = None):
        self.router = router
        self.store = store
        self.state_dir = state_dir
        self._lock = threading.Lock()
        self._base_cases = list(router.library.cases) if router.library is not None else []
        self._base_heads = {task: model.snapshot() for task, model in router.models.items()
                            if isinstance(model, HeadClassifier)}
        self.version: dict[str, int] = {}
        self.revision = (0, 0)  # the store's feedback revision when last rebuilt (`sync`)
        self._applied: dict[str, list[int]] = {}  # task -> ids of the corrections its head was fitted on
        self.apply(load_saved=True)

    def correct(self, task: str, key: str, label: str, *, source: str, log_text: str, template_id: str | None,
                reason: str = "", who: str = "", verdict: tuple[str, str | None] | None = None) -> dict[str, Any]:
        """Store a correction of the input `key` (what the small model reads, `model_input`) and apply it;
        returns its stored row (with `id`) and the head's version. `verdict`: the label and path of the verdict
        corrected, where it was stored (another process may have given it); default: the label this process
        gives `key` now, and the path of its cached verdict on it, if any."""
        with self._lock:
            if verdict is None:
                answered = self.router.cache.get((task, None, key))
                verdict = (self.router.current_label(task, key), answered.path if answered is not None else None)
            old, verdict_path = verdict
            row: dict[str, Any] = {"task": task, "source": source, "input": key, "log": log_text[:4000],
                                   "template_id": template_id, "old_label": old, "new_label": label,
                                   "verdict_path": verdict_path, "reason": reason, "who": who}
            row["id"] = self.store.add_feedback(row)
            metrics.FEEDBACK.labels(task, "correct").inc()
            self._rebuild({task})
            return {**row, "version": self.version.get(task)}

    def undo(self, feedback_id: int, who: str = "") -> dict[str, Any] | None:
        """Undo a correction; None when there is no such active one."""
        with self._lock:
            row = self.store.undo_feedback(feedback_id, who)
            if row is None:
                return None
            metrics.FEEDBACK.labels(row["task"], "undo").inc()
            if row["task"] in self.router.models:
                self._rebuild({row["task"]})
            return {**row, "version": self.version.get(row["task"])}

    def apply(self, load_saved: bool = False) -> None:
        """Rebuild overrides, heads, cases and LLM estimates from the store's active corrections."""
        with self._lock:
            self._rebuild(set(self.router.models), load_saved)

    def sync(self) -> list[dict[str, Any]]:
        """Catch up with corrections taken or undone by other processes on the same store (a daemon learns of
        the console's); one cheap query when there are none. Only tasks whose corrections changed are re-fitted
        (or loaded, when a process sharing the data folder saved that fit). Returns the new active ones."""
        with self._lock:
            if self.store.feedback_revision() == self.revision:
                return []
            seen = self.revision[0]
            active = self._rebuild(None, load_saved=True)
            return [row for row in active if int(row["id"]) > seen]

    # -- rebuilding ------------------------------------------------------------------------------------
    def _rebuild(self, tasks: set[str] | None, load_saved: bool = False) -> list[dict[str, Any]]:
        """Re-apply the active corrections to `tasks` (None: those whose corrections changed); returns them."""
        revision = self.store.feedback_revision()  # read first: a correction landing now is caught next time
        active = [row for row in self.store.feedback(active=True) if row["task"] in self.router.models]
        applied = {task: [int(row["id"]) for row in active if row["task"] == task] for task in self.router.models}
        if tasks is None:
            tasks = {task for task, ids in applied.items() if ids != self._applied.get(task)}
        self.router.overrides = {(row["task"], row["input"]): (row["new_label"], int(row["id"])) for row in active}
        for task in tasks:
            rows = [row for row in active if row["task"] == task]
            if task in self._base_heads:
                self._refit(task, rows, load_saved)
            self._update_llm_accuracy(task, rows)
            self.router.cache.invalidate(task)
        self._rebuild_cases(active)
        self.revision, self._applied = revision, applied
        return active

    def _refit(self, task: str, rows: list[dict[str, Any]], load_saved: bool) -> None:
        model = self.router.models[task]
        assert isinstance(model, HeadClassifier)  # only heads have a base in _base_heads
        ids = [int(row["id"]) for row in rows]
        model.remember([row["input"] for row in rows], [row["new_label"] for row in rows])
        folder = self._task_dir(task)
        saved = _read_state(folder)
        if (load_saved and folder is not None and saved is not None and saved.get("feedback_ids") == ids
                and (folder / "current").is_dir()):
            model.restore(type(model).load(folder / "current", model.embedder).snapshot())
            self.version[task] = int(saved["version"])
            return
        model.restore(self._base_heads[task])
        if not rows and saved is None:
            self.version[task] = 0  # the shipped head, never corrected here
            return
        if rows:
            started = time.perf_counter()
            model.refit([row["input"] for row in rows], [row["new_label"] for row in rows])
            log.info("%s head re-fitted on %d corrections in %.2f s", task, len(rows), time.perf_counter() - started)
        self.version[task] = (saved or {}).get("version", 0) + 1
        if folder is not None:
            self._save(model, folder, task, ids)

    def _save(self, model: HeadClassifier, folder: Path, task: str, ids: list[int]) -> None:
        version = self.version[task]
        target = folder / f"v{version:05d}"
        model.save(target, task=task, version=version, feedback_ids=ids)
        current = folder / "current"
        if current.is_symlink() or current.exists():
            current.unlink() if current.is_symlink() else shutil.rmtree(current)
        current.symlink_to(target.name)
        (folder / STATE).write_text(json.dumps({"version": version, "feedback_ids": ids, "at": time.time()}))
        for old in sorted(folder.glob("v*"))[:-KEEP_VERSIONS]:
            shutil.rmtree(old, ignore_errors=True)

    def _task_dir(self, task: str) -> Path | None:
        if self.state_dir is None:
            return None
        folder = self.state_dir / task
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def _update_llm_accuracy(self, task: str, rows: list[dict[str, Any]]) -> None:
        """The offline estimate, moved by the corrections in force of verdicts the LLM gave (one that keeps
        its label confirms it)."""
        judged = [row["old_label"] == row["new_label"] for row in rows if row.get("verdict_path") == "llm"]
        right, wrong = sum(judged), len(judged) - sum(judged)
        base = self.router.base_llm_accuracy.get(task)
        if base is not None:
            prior = 20.0  # the offline estimate counts as 20 observations
            self.router.llm_accuracy[task] = (base * prior + right) / (prior + right + wrong)
        if task in self.router.llm_accuracy:
            metrics.LLM_EXPECTED_ACCURACY.labels(task).set(self.router.llm_accuracy[task])

    def _rebuild_cases(self, active: list[dict[str, Any]]) -> None:
        library: CaseLibrary | None = self.router.library
        if library is None:
            return
        cases = [Case(log=row["log"], template=split_leveled(row["input"])[1],
                      label=row["new_label"], small_model_label=row["old_label"], task=row["task"],
                      reason=row["reason"], meta={"origin": "feedback", "feedback_id": row["id"], "who": row["who"]})
                 for row in active]
        for case in cases:
            case.reason = case.reason or template_reason(case)
        library.replace(self._base_cases + cases)


def _read_state(folder: Path | None) -> dict[str, Any] | None:
    if folder is None or not (folder / STATE).is_file():
        return None
    try:
        return json.loads((folder / STATE).read_text())
    except (OSError, ValueError):
        return None
