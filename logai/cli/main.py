"""`logai`: the command-line door to the pipeline. Commands only wire options to pipeline objects."""

from __future__ import annotations

from pathlib import Path

import click

from logai import __version__
from logai.config import ConfigError, Settings, load_settings
from logai.logs import setup_logging


class AppContext:
    def __init__(self, settings: Settings):
        self.settings = settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="logai")
@click.option("--config", "config_path", type=click.Path(path_type=Path), default=None,
              help="YAML config file (default: configs/logai.yaml, or $LOGAI_CONFIG).")
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR (overrides the config).")
@click.option("--log-json", is_flag=True, default=False, help="Write logai's own logs as JSON lines.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, log_level: str | None, log_json: bool) -> None:
    """logai: raw log streams to structured, semantically typed events."""
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    setup_logging(log_level.upper() if log_level else settings.logging.level,
                  log_json or settings.logging.json_format)
    ctx.obj = AppContext(settings)


def _register() -> None:
    from logai.cli.analyze_cmd import analyze
    from logai.cli.daemon_cmd import daemon
    from logai.cli.detect_cmd import detect
    from logai.cli.eval_cmd import eval_group
    from logai.cli.formats_cmd import formats
    from logai.cli.llm_cmd import llm
    from logai.cli.parse_cmd import parse
    from logai.cli.router_cmd import router
    from logai.cli.serve_cmd import serve
    from logai.cli.templates_cmd import templates

    cli.add_command(parse)
    cli.add_command(serve)
    cli.add_command(daemon)
    cli.add_command(formats)
    cli.add_command(templates)
    cli.add_command(llm)
    cli.add_command(detect)
    cli.add_command(analyze)
    cli.add_command(eval_group)
    cli.add_command(router)


_register()
