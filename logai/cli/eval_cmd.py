"""`logai eval`: reproducible batch evaluations (LogEval; Loghub parsing accuracy)."""

from __future__ import annotations

from pathlib import Path

import click


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
@click.option("--folds", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --train = --data: cross-fit anomaly and diagnosis over N folds by input, so every "
                   "item is scored by routers that never saw its log (1: score the test split only).")
@click.option("--concurrency", type=click.IntRange(min=1), default=1, show_default=True,
              help="LLM requests in flight (remote backends; the local backend answers one at a time).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Output folder: predictions.jsonl, report.json, report.md, scores.png (resumes).")
@click.pass_obj
def logeval(obj, data: Path, train: Path | None, tasks: str, langs: str, shots: str, system: str,
            backend: str | None, base_url: str | None, model: str | None, no_llm: bool, limit: int | None,
            folds: int, concurrency: int, seed: int, out: Path) -> None:
    """Score a system on LogEval: predictions.jsonl plus a report by task x language x shots."""
    from logai.evaluation.logeval_runner import EvalOptions, LogEvalRunner
    from logai.llm.factory import build_backend

    llm_config = obj.settings.llm.model_copy(update={k: v for k, v in (
        ("backend", backend), ("base_url", base_url), ("model", model)) if v is not None})
    if llm_config.backend == "local" and concurrency > 1:
        click.echo("--concurrency applies to remote backends; the local model answers one at a time", err=True)
        concurrency = 1
    try:
        options = EvalOptions(data=data, out=out, system=system, tasks=_csv(tasks), langs=_csv(langs),
                              shots=_csv(shots), train=train, seed=seed, limit=limit, folds=folds,
                              concurrency=concurrency)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    factory = None if (no_llm or system == "slm") else (lambda: build_backend(llm_config))
    report = LogEvalRunner(options, factory).run()
    click.echo((out / "report.md").read_text())
    if not report["groups"]:
        raise click.ClickException(f"no LogEval file for {tasks} / {langs} / {shots} under {data}")


@eval_group.command("loghub")
@click.option("--data", type=click.Path(path_type=Path, exists=True, file_okay=False), required=True,
              help="Folder holding loghub_2k/ (and loghub2_2k/ for --annotation loghub2).")
@click.option("--annotation", type=click.Choice(["corrected", "loghub2"]), default="corrected", show_default=True)
@click.option("--systems", default=None, help="Comma-separated systems (default: every one with data).")
def loghub(data: Path, annotation: str, systems: str | None) -> None:
    """Parsing accuracy (GA, PA, FGA, FTA) on Loghub-2k with the corrected or Loghub-2.0 templates."""
    from logai.evaluation.benchmark_logs import LOGHUB_SYSTEMS, BenchmarkDataError, load_labelled
    from logai.evaluation.parsing_metrics import score_parsing
    from logai.evaluation.parsing_run import final_templates
    from logai.ingest.lines import decode_line
    from logai.pipeline import ParsePipeline

    wanted = _csv(systems) if systems else [s for s in LOGHUB_SYSTEMS if (data / "loghub_2k" / s).is_dir()]
    totals: dict[str, float] = {}
    for system in wanted:
        try:
            labelled = load_labelled(data, system, annotation)
        except BenchmarkDataError as exc:
            click.echo(f"{system}: skipped ({exc})", err=True)
            continue
        lines = [decode_line(raw)[0] for raw in labelled.lines]
        scores = score_parsing(labelled.templates, final_templates(ParsePipeline(), lines, system, system))
        click.echo(f"{system:12s} GA {scores.GA:.3f}  PA {scores.PA:.3f}  FGA {scores.FGA:.3f}  FTA {scores.FTA:.3f}")
        for name, value in scores.as_dict().items():
            totals[name] = totals.get(name, 0.0) + value / len(wanted)
    click.echo("average      " + "  ".join(f"{k} {v:.3f}" for k, v in totals.items()))
