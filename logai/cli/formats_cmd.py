"""`logai formats`: list the known log formats."""

from __future__ import annotations

import click

from logai.config import ConfigError
from logai.parsing.formats import FormatRegistry


@click.command()
@click.pass_obj
def formats(app) -> None:
    """List the log formats logai knows (shipped ones plus your formats_dir); `[multi-line]` marks those that
    join a stack trace's lines into one event."""
    try:
        registry = FormatRegistry.for_settings(app.settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    for fmt in sorted(registry, key=lambda f: f.name.lower()):
        click.echo(f"{fmt.name:16s} {'[multi-line] ' if fmt.multiline else ''}{fmt.description}")
