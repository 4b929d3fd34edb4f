"""Batch LogEval runs: any system (`logai`, `slm`, `llm`) on LogEval-format files, resumable and reproducible.

`logai` answers with the pipeline: parsing items with the parser, anomaly and diagnosis items through the
adaptive router, summaries with the LLM over the parsed templates. `slm` uses only the small models (and
the parser; an extractive summary). `llm` sends LogEval's own prompt (instruction + input) and reads the
answer the LogEval way. Predictions are appended to `predictions.jsonl` as they are made, so an
interrupted run resumes where it stopped and produces the same file.
"""

from __future__ import annotations

import ast
import hashlib
import json
import logging
import random
import subprocess
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from logai.evaluation.answers import ANOMALY_WORDS, anomaly_label, choice_label, template_answer
from logai.evaluation.logeval import (
    LogEvalItem,
    find_logeval_file,
    folds_by_input,
    labelled_logs,
    load_logeval,
    split_by_input,
)
from logai.evaluation.text_metrics import parsing_scores, spread, summary_scores
from logai.llm.backend import Backend
from logai.pipeline import Pipeline
from logai.scores import accuracy, label_score, macro_f1

log = logging.getLogger(__name__)
SYSTEMS = ("logai", "slm", "llm")
TASKS = ("parsing", "anomaly", "diagnosis", "summary")


@dataclass
class EvalOptions:
    data: Path
    out: Path
    system: str = "logai"
    tasks: list[str] = field(default_factory=lambda: ["parsing", "anomaly", "diagnosis"])
    langs: list[str] = field(default_factory=lambda: ["en"])
    shots: list[str] = field(default_factory=lambda: ["zero"])
    train: Path | None = None
    seed: int = 0
    limit: int | None = None  # items per task × language × shots (a seeded sample), e.g. for CI
    train_limit: int | None = None  # logs the routers learn from per task (a seeded sample of the train part)
    epochs: int = 10  # fine-tuning epochs at most per router
    folds: int = 1  # >1: cross-fit the routed tasks when --train is --data, so every item is scored
    concurrency: int = 1  # LLM requests in flight (remote backends)
    llm_check: int = 40  # dev logs per router on which the LLM's accuracy is measured (0: not measured)

    def __post_init__(self) -> None:
        if self.system not in SYSTEMS:
            raise ValueError(f"unknown system {self.system!r}; one of {SYSTEMS}")
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown:
            raise ValueError(f"unknown tasks {unknown}; known: {TASKS}")
        if self.folds < 1 or self.concurrency < 1:
            raise ValueError("folds and concurrency are at least 1")


class PredictionLog:
    """`predictions.jsonl`: one object per answered item, appended at once; read back to resume."""

    def __init__(self, path: Path):
        self.path = path
        self.rows: dict[tuple[str, str, str, int], dict[str, Any]] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    row = json.loads(line)
                    self.rows[(row["task"], row["lang"], row["shots"], int(row["id"]))] = row

    def get(self, task: str, lang: str, shots: str, item_id: int) -> dict[str, Any] | None:
        return self.rows.get((task, lang, shots, item_id))

    def add(self, row: dict[str, Any]) -> None:
        self.rows[(row["task"], row["lang"], row["shots"], int(row["id"]))] = row
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


@dataclass
class Cost:
    llm_calls: int = 0
    llm_tokens: int = 0
    seconds: float = 0.0

    def add_call(self, tokens: int) -> None:
        with _LOCK:  # answers may come from several threads
            self.llm_calls += 1
            self.llm_tokens += tokens


_LOCK = threading.Lock()


class LogEvalRunner:
    def __init__(self, options: EvalOptions, backend_factory: Callable[[], Backend] | None = None,
                 pipeline_factory: Callable[[], Pipeline] = Pipeline,
                 progress: bool = True, context: dict[str, Any] | None = None):
        self.options = options
        self.backend_factory = backend_factory
        self.pipeline_factory = pipeline_factory
        self.progress = progress
        self.context = context or {}  # recorded in the manifest as given (e.g. the configuration)
        self._backend: Backend | None = None
        self._routers: dict[str, Any] = {}
        self._folds: dict[tuple[str, str], dict[str, int]] = {}

    # -- shared resources ---------------------------------------------------------------------------
    @property
    def backend(self) -> Backend:
        with _LOCK:
            if self._backend is None:
                if self.backend_factory is None:
                    raise RuntimeError(f"system {self.options.system!r} needs an LLM backend for this task")
                self._backend = self.backend_factory()
        return self._backend

    def _same_train_and_data(self) -> bool:
        train = self.options.train
        return train is None or train.resolve() == self.options.data.resolve()

    def _cross_fit(self) -> bool:
        return self.options.folds > 1 and self._same_train_and_data()

    def items(self, task: str, lang: str, shots: str) -> list[LogEvalItem]:
        """The scored items: all of `--data`, or its test part when it is also the training set (all of it,
        cross-fitted, with `folds` > 1)."""
        items = load_logeval(find_logeval_file(self.options.data, task, lang, shots))
        if task in ("anomaly", "diagnosis") and self.options.system != "llm" and self._same_train_and_data() \
                and not self._cross_fit():
            items = split_by_input(items, seed=self.options.seed).test
        if self.options.limit and len(items) > self.options.limit:
            items = sorted(random.Random(self.options.seed).sample(items, self.options.limit), key=lambda i: i.id)
        return items

    def _training_items(self, task: str, lang: str) -> list[LogEvalItem]:
        source = self.options.train or self.options.data
        return load_logeval(find_logeval_file(source, task, lang, "zero"))

    def _fold_of(self, task: str, lang: str) -> dict[str, int]:
        """Each training log's fold (computed once per task and language)."""
        if (task, lang) not in self._folds:
            self._folds[(task, lang)] = folds_by_input(self._training_items(task, lang), self.options.folds,
                                                       self.options.seed)
        return self._folds[(task, lang)]

    def router(self, task: str, lang: str, fold: int | None = None):
        """The router of one language: trained on `--train` (its train/dev parts; with cross-fitting, on the
        folds other than `fold`), cached under OUT/routers."""
        from logai.route.cases import CaseLibrary
        from logai.route.training import load_router, save_router, train_task
        from logai.slm.classifier import SlmClassifier
        from logai.slm.embeddings import SentenceEmbedder

        key = f"{task}-{lang}" if fold is None else f"{task}-{lang}-fold{fold}"
        if key in self._routers:
            return self._routers[key]
        folder = self.options.out / "routers" / key
        if not (folder / "router.json").is_file():
            items = self._training_items(task, lang)
            if fold is not None:  # the other folds: four fifths train, one fifth calibrates
                fold_of = self._fold_of(task, lang)
                split = split_by_input([i for i in items if fold_of[i.log] != fold], (0.8, 0.2, 0.0),
                                       seed=self.options.seed)
            elif self._same_train_and_data():
                split = split_by_input(items, seed=self.options.seed)
            else:  # a separate training set: all of it trains, a fifth calibrates
                split = split_by_input(items, (0.8, 0.2, 0.0), seed=self.options.seed)
            train, dev = split.train, split.dev
            if self.options.train_limit:  # a quick run: fewer logs to learn from (the scored part is unchanged)
                train, dev = _sample(train, self.options.train_limit), _sample(dev, self.options.train_limit // 4)
            trained = train_task(task, labelled_logs(train), labelled_logs(dev), self.pipeline_factory(),
                                 classifier=SlmClassifier(epochs=self.options.epochs,
                                                          min_epochs=min(3, self.options.epochs),
                                                          seed=self.options.seed))
            library = CaseLibrary(SentenceEmbedder())
            library.add(trained.cases)
            save_router(folder, {task: trained}, library, seed=self.options.seed, lang=lang)
            if self.options.system == "logai" and self.backend_factory and self.options.llm_check:
                from logai.route.llm_accuracy import record_llm_accuracy

                record_llm_accuracy(folder, self.backend, {task: trained.dev}, self.options.llm_check)
        backend = self.backend if self.options.system == "logai" and self.backend_factory else None
        router = load_router(folder, backend)
        self._routers[key] = router
        return router

    # -- answering ----------------------------------------------------------------------------------
    def answer(self, task: str, lang: str, items: list[LogEvalItem], cost: Cost) -> dict[int, str]:
        """Predictions for `items` not yet answered (all systems batch where they can)."""
        system = self.options.system
        if system == "llm":
            return dict(zip([i.id for i in items], self._each(items, task, lambda i: self._llm_answer(
                task, lang, i, cost)), strict=True))
        if task == "parsing":
            return self._parse(items)
        if task in ("anomaly", "diagnosis"):
            if self._cross_fit():
                fold_of = self._fold_of(task, lang)
                out: dict[int, str] = {}
                for fold in range(self.options.folds):
                    part = [i for i in items if fold_of[i.log] == fold]
                    if part:
                        out.update(self._route(task, lang, part, cost, fold))
                return out
            return self._route(task, lang, items, cost)
        return dict(zip([i.id for i in items], self._each(items, task, lambda i: self._summary(i, cost)),
                        strict=True))

    def _each(self, items: list[LogEvalItem], task: str, answer: Callable[[LogEvalItem], str]) -> list[str]:
        """`answer` for every item in order, `concurrency` at a time (threads: the work is waiting on HTTP)."""
        if self.options.concurrency == 1:
            return [answer(item) for item in self._bar(items, task)]
        with ThreadPoolExecutor(self.options.concurrency) as pool:
            return list(self._bar(pool.map(answer, items), task, total=len(items)))

    def _bar(self, items: Iterable[Any], task: str, total: int | None = None) -> Iterator[Any]:
        if not self.progress:
            return iter(items)
        from tqdm import tqdm

        return iter(tqdm(items, desc=task, leave=False, total=total))

    def _parse(self, items: list[LogEvalItem]) -> dict[int, str]:
        """The parser mines every distinct log of the set, then each item gets its log's final template."""
        from logai.evaluation.parsing_run import final_templates

        logs = list(dict.fromkeys(item.log for item in items))
        templates = dict(zip(logs, final_templates(self.pipeline_factory(), logs, "logeval", "plain"),
                             strict=True))
        return {item.id: templates[item.log] for item in items}

    def _route(self, task: str, lang: str, items: list[LogEvalItem], cost: Cost, fold: int | None = None
               ) -> dict[int, str]:
        from logai.route.analysis import AnalysisService

        pipeline = self.pipeline_factory()
        pipeline.route, pipeline.route_task = AnalysisService(self.router(task, lang, fold)), task
        out: dict[int, str] = {}
        for start in range(0, len(items), 256):
            chunk = items[start : start + 256]
            parsed = pipeline.run([item.log for item in chunk], source=f"eval-{task}-{lang}",  # as trained
                                  format_name="generic")
            if parsed.failed:
                raise RuntimeError(f"LogEval logs failed to parse: {parsed.failed[:3]}")
            verdicts = [verdict for _, verdict in pipeline.judge(
                parsed.events, parsed.anomalies, choices=[item.choices or None for item in chunk], defer_llm=False)]
            for item, verdict in zip(chunk, verdicts, strict=True):
                out[item.id] = verdict.label
                if verdict.path == "llm" and not verdict.cached:
                    cost.add_call(verdict.llm_tokens)
        return out

    def _summary(self, item: LogEvalItem, cost: Cost) -> str:
        """Templates of the window's lines; `slm` lists their key phrases, `logai` has the LLM pick and order
        them under a JSON-schema constraint (falling back to the key phrases when the LLM fails)."""
        from logai.evaluation.parsing_run import final_templates
        from logai.evaluation.summaries import (
            extractive_summary,
            key_phrases,
            read_summary,
            summary_constraint,
            summary_messages,
        )
        from logai.llm.types import Constraint, GenerationRequest, LLMError, SamplingParams

        try:
            lines = [str(x) for x in ast.literal_eval(item.log)]
        except (ValueError, SyntaxError):
            lines = [line for line in item.log.splitlines() if line.strip()]
        templates = Counter(final_templates(self.pipeline_factory(), lines, "summary", "plain"))
        extractive = extractive_summary(templates)
        phrases = key_phrases(templates)
        if self.options.system == "slm" or not phrases:
            return extractive
        request = GenerationRequest(messages=summary_messages(templates),
                                    constraint=Constraint.json_schema(summary_constraint(phrases[:20])),
                                    sampling=SamplingParams(max_tokens=96, temperature=0.0))
        try:
            result = self.backend.generate([request])[0]
            cost.add_call(result.prompt_tokens + result.completion_tokens)
            return read_summary(result.text)
        except (LLMError, ValueError) as exc:
            log.warning("LLM summary failed on item %d, key phrases instead: %s", item.id, exc)
            return extractive

    def _llm_answer(self, task: str, lang: str, item: LogEvalItem, cost: Cost) -> str:
        from logai.llm.types import LLMError

        prompt = f"{item.instruction}\n{item.input.strip()}"
        try:
            result = self.backend.chat([{"role": "user", "content": prompt}], max_tokens=64)
        except LLMError as exc:
            log.warning("LLM failed on %s item %d: %s", task, item.id, exc)
            return ""
        cost.add_call(result.prompt_tokens + result.completion_tokens)
        if task == "anomaly":
            return anomaly_label(result.text, lang)
        if task == "diagnosis":
            return choice_label(result.text, item.choices)
        if task == "parsing":
            return template_answer(result.text)
        return " ".join(result.text.split())

    # -- the run ------------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        options = self.options
        options.out.mkdir(parents=True, exist_ok=True)
        predictions = PredictionLog(options.out / "predictions.jsonl")
        groups: dict[str, Any] = {}
        data_files: dict[str, str] = {}
        for task in options.tasks:
            for lang in options.langs:
                for shots in options.shots:
                    try:
                        path = find_logeval_file(options.data, task, lang, shots)
                    except FileNotFoundError as exc:
                        log.warning("skipping: %s", exc)
                        continue
                    data_files[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
                    items = self.items(task, lang, shots)
                    todo = [i for i in items if predictions.get(task, lang, shots, i.id) is None]
                    cost = Cost()
                    started = time.perf_counter()
                    answered = self.answer(task, lang, todo, cost) if todo else {}
                    cost.seconds = time.perf_counter() - started
                    for item in todo:
                        predictions.add({"task": task, "lang": lang, "shots": shots, "id": item.id,
                                         "prediction": answered[item.id]})
                    rows = [predictions.get(task, lang, shots, i.id) for i in items]
                    groups[f"{task}/{lang}/{shots}"] = {
                        "task": task, "lang": lang, "shots": shots, "items": len(items),
                        "scores": score_group(task, lang, items, [r["prediction"] for r in rows if r]),
                        "cost": asdict(cost), "answered_now": len(todo)}
                    log.info("%s/%s/%s: %s", task, lang, shots, groups[f"{task}/{lang}/{shots}"]["scores"])
        report = {"system": options.system, "groups": groups, "manifest": self.manifest(data_files)}
        write_run_report(options.out, report)
        return report

    def manifest(self, data_files: dict[str, str]) -> dict[str, Any]:
        from logai import __version__

        try:
            commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
                                    cwd=Path(__file__).resolve().parent).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            commit = None
        llm = getattr(self._backend, "model_name", None) or (type(self._backend).__name__ if self._backend else None)
        return {"logai_version": __version__, "commit": commit, "seed": self.options.seed,
                "options": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(self.options).items()},
                "data_sha256": data_files, "llm": llm, "routers": sorted(self._routers), **self.context}


PRIMARY = {"parsing": "accuracy", "anomaly": "f1", "diagnosis": "f1", "summary": "rougeL"}


def _sample(items: list[LogEvalItem], limit: int, seed: int = 0) -> list[LogEvalItem]:
    return items if len(items) <= limit else sorted(random.Random(seed).sample(items, limit), key=lambda i: i.id)


def task_scores(task: str, lang: str, gold: list[str], predicted: list[str]) -> dict[str, float]:
    """The scores of one task; `PRIMARY[task]` names the headline one."""
    if task == "parsing":
        return parsing_scores(gold, predicted)
    if task == "summary":
        return summary_scores(gold, predicted)
    if task == "anomaly":
        f1 = label_score(gold, predicted, ANOMALY_WORDS[lang][0])
        return {"accuracy": accuracy(gold, predicted), "precision": f1.precision, "recall": f1.recall,
                "f1": f1.f1}
    return {"accuracy": accuracy(gold, predicted), "f1": macro_f1(gold, predicted)}


def score_group(task: str, lang: str, items: list[LogEvalItem], predicted: list[str]) -> dict[str, Any]:
    """The task's scores over all items, and the spread of the headline score across prompts."""
    gold = [item.output for item in items]
    if len(predicted) != len(gold):
        raise ValueError("predictions missing for some items")
    per_prompt: dict[str, list[int]] = defaultdict(list)
    for n, item in enumerate(items):
        per_prompt[item.instruction].append(n)
    scores: dict[str, Any] = task_scores(task, lang, gold, predicted)
    scores["per_prompt"] = spread({
        prompt: task_scores(task, lang, [gold[i] for i in idx], [predicted[i] for i in idx])[PRIMARY[task]]
        for prompt, idx in per_prompt.items()})
    return scores


def write_run_report(out: Path, report: dict[str, Any]) -> None:
    (out / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    lines = [f"# LogEval run: system `{report['system']}`", "",
             "| task | lang | shots | items | score | per-prompt variance | LLM calls | LLM tokens | wall s |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for group in report["groups"].values():
        metric = PRIMARY[group["task"]]
        s, c = group["scores"], group["cost"]
        lines.append(f"| {group['task']} | {group['lang']} | {group['shots']} | {group['items']} | "
                     f"{metric} {s[metric]:.3f} | {s['per_prompt']['variance']:.4f} | {c['llm_calls']} | "
                     f"{c['llm_tokens']} | {c['seconds']:.1f} |")
    lines += ["", "Scores: parsing accuracy (template equal to gold after whitespace normalisation), anomaly F1 "
              "(abnormal = positive), diagnosis macro-F1, summary ROUGE-L F1. Wall time covers items answered "
              "in this invocation (a resumed run counts only the rest).", "", "![scores](scores.png)", ""]
    (out / "report.md").write_text("\n".join(lines))
    _plot(report, out / "scores.png")


def _plot(report: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # plots are optional (matplotlib is a dev dependency)
        return
    groups = list(report["groups"].values())
    if not groups:
        return
    names = [f"{g['task']}\n{g['lang']}/{g['shots']}" for g in groups]
    values = [g["scores"][PRIMARY[g["task"]]] for g in groups]
    fig, ax = plt.subplots(figsize=(max(4.0, 1.3 * len(groups)), 3.6))
    ax.bar(names, values, color="#4c72b0")
    ax.set_ylim(0, 1)
    ax.set_ylabel("score")
    ax.set_title(f"LogEval, system {report['system']}")
    for x, v in enumerate(values):
        ax.text(x, v + 0.02, f"{v:.3f}", ha="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
