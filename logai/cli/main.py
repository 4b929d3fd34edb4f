"""`logai`: the command-line door to the pipeline. Commands only wire options to pipeline objects."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

import click

from logai import __version__

if TYPE_CHECKING:
    from logai.config import Settings

# name -> (module, attribute, the line `logai --help` shows): a command's module (and what it imports: pydantic
# settings, the pipeline, torch) is imported only when that command runs or shows its own help
COMMANDS: dict[str, tuple[str, str, str]] = {
    "analyze": ("logai.cli.analyze_cmd", "analyze", "Verdicts for log lines: label, path, uncertainty, reason"),
    "daemon": ("logai.cli.daemon_cmd", "daemon", "Kafka in: parse, store and publish events, at least once"),
    "detect": ("logai.cli.detect_cmd", "detect", "Train anomaly detectors on a log, score logs with them"),
    "eval": ("logai.cli.eval_cmd", "eval_group", "Batch evaluations of logai or of any LLM"),
    "formats": ("logai.cli.formats_cmd", "formats", "List the log formats logai knows"),
    "llm": ("logai.cli.llm_cmd", "llm", "The LLM engine: serve an OpenAI-compatible API, or ask it"),
    "parse": ("logai.cli.parse_cmd", "parse", "Parse log files (or '-' for stdin) into JSON Lines events"),
    "router": ("logai.cli.router_cmd", "router", "Train a router on your labelled lines; show a router folder"),
    "serve": ("logai.cli.serve_cmd", "serve", "The REST API, console and doors (OTLP, Loki, syslog, files)"),
    "templates": ("logai.cli.templates_cmd", "templates", "List mined templates by count"),
}


class AppContext:
    def __init__(self, settings: Settings):
        self.settings = settings


class LazyGroup(click.Group):
    """click's lazy-loading group: commands are listed from `COMMANDS` and imported when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return self.commands.get(cmd_name)
        module, attribute, _ = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attribute)
        if not isinstance(command, click.Command):
            raise RuntimeError(f"{module}.{attribute} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2] if name in COMMANDS and name not in self.commands
                 else self.commands[name].get_short_help_str()) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="logai")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="YAML config file (default: configs/logai.yaml, or $LOGAI_CONFIG).")
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR (overrides the config).")
@click.option("--log-json", is_flag=True, default=False, help="Write logai's own logs as JSON lines.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, log_level: str | None, log_json: bool) -> None:
    """logai: raw log streams to structured, semantically typed events."""
    from logai.config import ConfigError, load_settings
    from logai.logs import setup_logging

    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    setup_logging(log_level.upper() if log_level else settings.logging.level,
                  log_json or settings.logging.json_format)
    ctx.obj = AppContext(settings)

