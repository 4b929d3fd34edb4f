"""`logai templates`: the templates kept in a parser state file, with their counts."""

from __future__ import annotations

from pathlib import Path

import click
import orjson

from logai.parsing.state import load_state


@click.command()
@click.option("--state", "state_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              required=True, help="Parser state file written by `logai parse --state`.")
@click.option("--source", default=None, help="Only this source.")
@click.option("--top", type=int, default=0, help="Show only the N most frequent templates per source.")
@click.option("--json", "as_json", is_flag=True, help="JSON Lines instead of a table.")
def templates(state_file: Path, source: str | None, top: int, as_json: bool) -> None:
    """List mined templates (final forms: generalised ones folded in) by count."""
    sources = load_state(state_file, set_aside=False)
    if not sources:
        raise click.ClickException(f"{state_file}: no readable parser state (see the warning above)")
    for name, saved in sorted(sources.items()):
        if source is not None and name != source:
            continue
        rows = sorted(saved["miner"]["templates"], key=lambda t: (-t[2], t[0]))
        if top:
            rows = rows[:top]
        if not as_json:
            click.echo(f"# {name} ({saved['format']}): {len(saved['miner']['templates'])} templates")
        for tid, text, count, _last in rows:
            if as_json:
                click.echo(orjson.dumps({"source": name, "template_id": tid, "template": text, "count": count}))
            else:
                click.echo(f"{count:8d}  {tid}  {text}")
