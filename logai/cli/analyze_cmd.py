"""`logai analyze`: verdicts for log lines from a file or stdin, through the trained router."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from contextlib import ExitStack, suppress
from pathlib import Path

import click
import orjson

from logai.cli.progress import read_with_progress, wants_progress
from logai.route.tasks import NORMAL_LABELS


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
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: when stderr is a terminal).")
@click.pass_obj
def analyze(obj, input_path: Path | None, task: str, router_dir: Path | None, format_name: str | None,
            no_llm: bool, batch: int, progress: bool | None) -> None:
    """One JSON verdict per line: label, path (slm / llm / slm_fallback), uncertainty, reason, cases.

    At the end, stderr says how many verdicts of each label and path there were, and which templates the
    verdicts other than normal fell on, most first."""
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
    tally = Tally()
    with ExitStack() as stack:
        stream: Iterable[bytes] = sys.stdin.buffer
        if input_path:
            stream = handle = stack.enter_context(input_path.open("rb"))
            if wants_progress(progress):
                stream = read_with_progress(handle, input_path, f"{input_path.name} [{format_name}]", stack)
        for event, verdict in pipeline.analyze_stream(stream, source=str(input_path or "stdin"),
                                                      format_name=format_name, batch=batch):
            click.echo(orjson.dumps({"line": event.line, "template_id": event.template_id, "label": verdict.label,
                                     **verdict.provenance()}))
            tally.add(verdict.label, verdict.path, event.template_id or event.content)
    source = str(input_path or "stdin")
    final = {}
    for key in tally.template_ids():
        with suppress(KeyError):  # a record without a template is named by its content
            final[key] = pipeline.template_text(source, format_name, key)
    click.echo(tally.report(f"{source} ({format_name})", final), err=True)


class Tally:
    """What a person reads after the JSON: verdicts by label and by path, and the templates of those that are
    not normal (by template id while reading; `report` names each by its final text, so the lines a template
    had before a later line generalised it count with it)."""

    def __init__(self, top: int = 5):
        self.top = top
        self.labels: Counter[str] = Counter()
        self.paths: Counter[str] = Counter()
        self.flagged: Counter[tuple[str, str]] = Counter()

    def add(self, label: str, path: str, key: str) -> None:
        self.labels[label] += 1
        self.paths[path] += 1
        if label not in NORMAL_LABELS:
            self.flagged[(label, key)] += 1

    def template_ids(self) -> set[str]:
        return {key for _, key in self.flagged}

    def report(self, what: str, text: dict[str, str]) -> str:
        total = sum(self.labels.values())
        labels = ", ".join(f"{n} {label} ({n / total:.1%})" for label, n in self.labels.most_common()) or "none"
        paths = ", ".join(f"{path} {n}" for path, n in self.paths.most_common())
        lines = [f"logai analyze: {total} verdicts for {what}: {labels}" + (f"; decided by {paths}" if paths else "")]
        flagged: Counter[tuple[str, str]] = Counter()
        for (label, key), n in self.flagged.items():
            flagged[(label, (text.get(key) or key).splitlines()[0][:120])] += n
        for (label, template), n in flagged.most_common(self.top):
            lines.append(f"  {n:6d}  {label}  {template}")
        if len(flagged) > self.top:
            lines.append(f"  ... and {len(flagged) - self.top} more templates with verdicts other than normal")
        return "\n".join(lines)
