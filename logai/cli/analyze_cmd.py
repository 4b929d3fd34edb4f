"""`logai analyze`: verdicts for log lines from a file or stdin, through the trained router."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import orjson


@click.command()
@click.option("--input", "input_path", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              default=None, help="Log file (default: stdin).")
@click.option("--task", default="anomaly", show_default=True, help="A task the router was trained for.")
@click.option("--router", "router_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Router folder from `logai router train` (default: route.model_dir, else the shipped one).")
@click.option("--format", "format_name", default=None,
              help="Log format (see `logai formats`); default: detected from the file's first lines, as `logai "
                   "parse` does (multi-line records such as stack traces are one verdict), or generic on stdin.")
@click.option("--no-llm", is_flag=True, help="Small model only: no LLM is loaded or called.")
@click.option("--batch", type=int, default=256, show_default=True, help="Lines per small-model batch.")
@click.pass_obj
def analyze(obj, input_path: Path | None, task: str, router_dir: Path | None, format_name: str | None,
            no_llm: bool, batch: int) -> None:
    """One JSON verdict per line: label, path (slm / llm / slm_fallback), uncertainty, reason, cases."""
    from logai.config import ConfigError
    from logai.parsing.format_detect import detect_file_format
    from logai.parsing.formats import FormatRegistry, UnknownFormatError
    from logai.pipeline import Pipeline
    from logai.route.analysis import AnalysisService, build_router  # torch: imported here, not at start-up

    settings = obj.settings
    try:  # before any model loads: a wrong format name is a one-line error at once
        registry = FormatRegistry.for_settings(settings)
        format_name = format_name or (detect_file_format(input_path, registry) if input_path else "generic")
        registry.get(format_name)
    except (ConfigError, UnknownFormatError) as exc:
        raise click.ClickException(str(exc)) from exc
    route = settings.route.model_copy(update={"model_dir": router_dir or settings.route.model_dir,
                                              "llm": settings.route.llm and not no_llm})
    try:
        router = build_router(settings.model_copy(update={"route": route}))
    except (FileNotFoundError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if task not in router.models:
        raise click.ClickException(f"unknown task {task!r}; this router knows {sorted(router.models)}")
    pipeline = Pipeline(settings, registry=registry, route=AnalysisService(router), route_task=task)
    stream = input_path.open("rb") if input_path else sys.stdin.buffer
    try:
        for event, verdict in pipeline.analyze_stream(stream, source=str(input_path or "stdin"),
                                                      format_name=format_name, batch=batch):
            click.echo(orjson.dumps({"line": event.line, "template_id": event.template_id, "label": verdict.label,
                                     **verdict.provenance()}))
    finally:
        if input_path:
            stream.close()
