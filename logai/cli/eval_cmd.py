"""`logai eval`: reproducible batch evaluations (LogEval; Loghub parsing accuracy; SemParser semantics)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from tqdm import tqdm

if TYPE_CHECKING:
    from logai.config import Settings

PARSING_METRICS = ("GA", "PA", "FGA", "FTA")


def _csv(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


@click.group("eval")
def eval_group() -> None:
    """Batch evaluations of logai or of any LLM."""


@eval_group.command("logeval")
@click.option("--data", type=click.Path(path_type=Path, exists=True, file_okay=False), required=True,
              help="Folder of LogEval-format JSON files to score.")
@click.option("--train", type=click.Path(path_type=Path, exists=True, file_okay=False), default=None,
              help="LogEval-format files the small models and case library learn from (default: --data, "
                   "split by input; only its test part is scored).")
@click.option("--tasks", default="parsing,anomaly,diagnosis", show_default=True,
              help="Any of parsing, anomaly, diagnosis, summary.")
@click.option("--lang", "langs", default="en", show_default=True, help="en, zh or en,zh.")
@click.option("--shots", default="zero", show_default=True, help="zero, few or zero,few.")
@click.option("--system", type=click.Choice(["logai", "slm", "llm"]), default="logai", show_default=True)
@click.option("--backend", type=click.Choice(["local", "openai"]), default=None,
              help="LLM backend (default: llm.backend of the config).")
@click.option("--base-url", default=None, help="OpenAI-compatible server, with --backend openai.")
@click.option("--model", default=None, help="Model name (openai) or local model dir / GGUF.")
@click.option("--no-llm", is_flag=True, help="logai system without the LLM (routing keeps the small model).")
@click.option("--limit", type=int, default=None, help="Score a seeded sample of N items per file.")
@click.option("--train-limit", type=click.IntRange(min=20), default=None,
              help="Train the routers on a seeded sample of N logs per task (a quick run; default: all).")
@click.option("--epochs", type=click.IntRange(min=1), default=10, show_default=True,
              help="Fine-tuning epochs at most per router (early stopping may end sooner; fewer: a quick run).")
@click.option("--folds", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --train = --data: cross-fit anomaly and diagnosis over N folds by input, so every "
                   "item is scored by routers that never saw its log (1: score the test split only).")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
              help="LLM requests in flight (remote backends; the local backend answers one at a time).")
@click.option("--llm-check", type=click.IntRange(min=0), default=40, show_default=True,
              help="Dev logs per router the LLM answers to measure its accuracy: routers route only where it "
                   "beats the small model (0: route on uncertainty alone).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Output folder: predictions.jsonl, report.json, report.md, scores.png (resumes).")
@click.pass_obj
def logeval(obj, data: Path, train: Path | None, tasks: str, langs: str, shots: str, system: str,
            backend: str | None, base_url: str | None, model: str | None, no_llm: bool, limit: int | None,
            train_limit: int | None, epochs: int, folds: int, concurrency: int, llm_check: int, seed: int,
            out: Path) -> None:
    """Score a system on LogEval: predictions.jsonl plus a report by task x language x shots."""
    from logai.config import redacted
    from logai.evaluation.logeval_runner import EvalOptions, LogEvalRunner
    from logai.llm.factory import build_backend
    from logai.pipeline import Pipeline

    llm_config = obj.settings.llm.model_copy(update={k: v for k, v in (
        ("backend", backend), ("base_url", base_url), ("model", model)) if v is not None})
    if llm_config.backend == "local" and concurrency > 1:
        click.echo("--concurrency applies to remote backends; the local model answers one at a time", err=True)
        concurrency = 1
    try:
        options = EvalOptions(data=data, out=out, system=system, tasks=_csv(tasks), langs=_csv(langs),
                              shots=_csv(shots), train=train, seed=seed, limit=limit, train_limit=train_limit,
                              epochs=epochs, folds=folds, concurrency=concurrency, llm_check=llm_check)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    factory = None if (no_llm or system == "slm") else (lambda: build_backend(llm_config))
    context = {"llm_config": redacted(llm_config) if factory else None, "config": redacted(obj.settings)}
    settings = _parsing_settings(obj.settings)
    report = LogEvalRunner(options, factory, context=context, pipeline_factory=lambda: Pipeline(settings)).run()
    click.echo((out / "report.md").read_text())
    if not report["groups"]:
        raise click.ClickException(f"no LogEval file for {tasks} / {langs} / {shots} under {data}")


def _parsing_settings(settings: Settings) -> Settings:
    """The configuration an evaluation parses with (the one `--config` gave, recorded in its report), less
    the parser state file: an evaluation starts from no templates and leaves the service's state alone."""
    return settings.model_copy(update={"parsing": settings.parsing.model_copy(update={"state_file": None})})


def _recorded(settings: Settings) -> dict:
    from logai.config import redacted

    return redacted(settings)


def _write_report(out: Path | None, report: dict) -> None:
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.json").write_text(json.dumps(report, indent=2))
        click.echo(f"report: {out / 'report.json'}")


def _average(rows: dict[str, dict[str, float]]) -> dict[str, float]:
    keys = next(iter(rows.values())).keys() if rows else []
    return {k: sum(r[k] for r in rows.values()) / len(rows) for k in keys}


@eval_group.command("loghub")
@click.option("--data", type=click.Path(path_type=Path, exists=True, file_okay=False), required=True,
              help="Folder holding loghub_2k/ (and loghub2_2k/ for --annotation loghub2).")
@click.option("--annotation", type=click.Choice(["corrected", "loghub2"]), default="corrected", show_default=True)
@click.option("--systems", default=None, help="Comma-separated systems (default: every one with data).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Also write report.json here.")
@click.pass_obj
def loghub(obj, data: Path, annotation: str, systems: str | None, out: Path | None) -> None:
    """Parsing accuracy (GA, PA, FGA, FTA) on Loghub-2k with the corrected or Loghub-2.0 templates."""
    from logai.evaluation.benchmark_logs import LOGHUB_SYSTEMS, BenchmarkDataError
    from logai.evaluation.parsing_run import loghub_scores

    wanted = _csv(systems) if systems else [s for s in LOGHUB_SYSTEMS if (data / "loghub_2k" / s).is_dir()]
    rows: dict[str, dict[str, float]] = {}
    for system in tqdm(wanted, desc="systems", leave=False):
        try:
            rows[system] = loghub_scores(data, system, annotation, _parsing_settings(obj.settings)).as_dict()
        except BenchmarkDataError as exc:
            tqdm.write(f"{system}: skipped ({exc})")
            continue
        tqdm.write(f"{system:12s} " + "  ".join(f"{k} {rows[system][k]:.3f}" for k in PARSING_METRICS))
    if not rows:
        raise click.ClickException(f"no Loghub-2k system with {annotation} templates under {data}")
    average = _average(rows)
    click.echo("average      " + "  ".join(f"{k} {average[k]:.3f}" for k in PARSING_METRICS))
    _write_report(out, {"annotation": annotation, "systems": rows, "average": average,
                        "config": _recorded(obj.settings)})


@eval_group.command("semparser")
@click.option("--data", type=click.Path(path_type=Path, exists=True, file_okay=False), required=True,
              help="Folder holding semparser/ (test gold) and loghub_2k/ (the raw lines).")
@click.option("--systems", default=None, help="Comma-separated SemParser systems (default: the six with gold).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Also write report.json here.")
@click.pass_obj
def semparser(obj, data: Path, systems: str | None, out: Path | None) -> None:
    """Concept-instance pair precision/recall/F1 of logai's semantics on SemParser's gold."""
    from logai.evaluation.benchmark_logs import BenchmarkDataError
    from logai.evaluation.semantics_run import semparser_scores
    from logai.evaluation.semparser_data import GOLD_SYSTEMS

    rows: dict[str, dict[str, float]] = {}
    for system in tqdm(_csv(systems) if systems else GOLD_SYSTEMS, desc="systems", leave=False):
        try:
            scores = semparser_scores(data, system, _parsing_settings(obj.settings))
        except (BenchmarkDataError, OSError, ValueError) as exc:
            tqdm.write(f"{system}: skipped ({exc})")
            continue
        rows[system] = {k: scores[k] for k in ("precision", "recall", "f1")}
        tqdm.write(f"{system:12s} P {scores['precision']:.3f}  R {scores['recall']:.3f}  F1 {scores['f1']:.3f}")
    if not rows:
        raise click.ClickException(f"no SemParser gold found under {data / 'semparser'}")
    average = _average(rows)
    click.echo(f"average      P {average['precision']:.3f}  R {average['recall']:.3f}  F1 {average['f1']:.3f}")
    _write_report(out, {"systems": rows, "average": average, "config": _recorded(obj.settings)})
