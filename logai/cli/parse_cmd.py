"""`logai parse`: files or stdin in, JSON Lines events out (one per input line, in input order)."""

from __future__ import annotations

import logging
import re
import signal
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

import click

from logai.cli.progress import read_with_progress, wants_progress
from logai.config import ConfigError
from logai.doors.bodies import BadBody
from logai.events import Event
from logai.parsing.formats import UnknownFormatError
from logai.pipeline import Pipeline

log = logging.getLogger(__name__)

@click.command()
@click.argument("inputs", nargs=-1, type=click.Path(allow_dash=True, path_type=Path))
@click.option("--format", "format_name", default=None,
              help="Log format name (see `logai formats`); default: detected from each input's first lines.")
@click.option("--source", default=None, help="Source name for template ids (default: the file's name).")
@click.option("--out", type=click.Path(allow_dash=True, path_type=Path), default=None,
              help="Write JSON Lines here (default: stdout).")
@click.option("--state", "state_file", type=click.Path(path_type=Path), default=None,
              help="Miner state file: reloaded at start, saved periodically and at the end.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: when stderr is a terminal).")
@click.option("--semantics/--no-semantics", default=None,
              help="Parameter types, concepts and conceptualized templates (default: from the config, on).")
@click.option("--streaming", is_flag=True,
              help="Write each line's template as it stood when the line was read, as stdin does (default for "
                   "files: the final template, after the whole file).")
@click.pass_obj
def parse(app, inputs: tuple[Path, ...], format_name: str | None, source: str | None, out: Path | None,
          state_file: Path | None, progress: bool | None, semantics: bool | None, streaming: bool) -> None:
    """Parse log FILEs (or '-' for stdin) into JSON Lines events.

    Each output object has at least: line (1-based), template_id, template (with <*>),
    conceptualized (instances as <*concept*>), params (list of {value, type, concept}) and
    fields (the header fields). A file's lines get their final templates (a template that a later
    line generalised is replaced by the general one; the file is spooled to a temporary file, so memory
    stays bounded); stdin, and files with --streaming, get each template as it stood then.
    """
    settings = app.settings
    if state_file is not None:
        settings = settings.model_copy(update={"parsing": settings.parsing.model_copy(
            update={"state_file": state_file})})
    if semantics is not None:
        settings = settings.model_copy(update={"semantics": settings.semantics.model_copy(
            update={"enabled": semantics})})
    try:
        pipeline = Pipeline(settings)
        if format_name is not None:
            pipeline.registry.get(format_name)
    except (ConfigError, UnknownFormatError) as exc:
        raise click.ClickException(str(exc)) from exc

    inputs = inputs or (Path("-"),)
    for path in inputs:
        if str(path) != "-" and not path.is_file():
            raise click.ClickException(f"no such file: {path}")
    show_progress = wants_progress(progress)
    # SIGTERM (a service manager stopping us) unwinds like Ctrl-C, so the state below is still saved.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))

    with ExitStack() as stack:
        sink = sys.stdout.buffer if out is None or str(out) == "-" else stack.enter_context(out.open("wb"))
        write = sink.write
        try:
            for path in inputs:
                is_stdin = str(path) == "-"
                src = source or ("stdin" if is_stdin else path.name)
                if is_stdin:
                    fmt = format_name or "generic"
                    stream: Iterable[bytes] = sys.stdin.buffer
                else:
                    fmt = format_name or pipeline.detect_file_format(path)
                    handle = stack.enter_context(path.open("rb"))
                    stream = handle
                    if show_progress:
                        stream = read_with_progress(handle, path, f"{path.name} [{fmt}]", stack)
                pipeline.open_source(src, fmt)
                log.info("parsing %s as format %s, source %s", path, fmt, src)
                if pipeline.registry.get(fmt).kind == "journal-export":
                    events = _journal_events(pipeline, sys.stdin.buffer if is_stdin else handle, src, fmt)
                else:
                    events = pipeline.parse_stream(stream, source=src, format_name=fmt)
                if is_stdin or streaming:
                    for event in events:
                        write(event.to_json_line())
                else:
                    _write_final(pipeline, events, src, fmt, write)
        except BrokenPipeError:
            sys.stderr.close()  # reader went away (e.g. `| head`): stop quietly
        finally:
            pipeline.close()


def _journal_events(pipeline: Pipeline, stream: BinaryIO, source: str, format_name: str) -> Iterator[Event]:
    """A Journal Export Format stream's entries as events, 512 at a time; each entry's source is `source` (the
    file's name, or --source). An entry without a message is reported on stderr and skipped."""
    from itertools import islice

    from logai.doors import journal
    from logai.doors.batch import Rejected

    entries = journal.read_records(stream, source, ())
    first = 1
    try:
        while chunk := list(islice(entries, 512)):
            records = []
            for offset, item in chunk:
                if isinstance(item, Rejected):
                    click.echo(f"logai parse: {source}: entry at byte {offset} skipped: {item.why}", err=True)
                else:
                    records.append(item)
            yield from pipeline.run_records(records, format_name=format_name, first_line=first).events
            first += len(records)
    except BadBody as exc:
        raise click.ClickException(f"{source}: {exc}") from exc


_TEMPLATE_ID = re.compile(rb'"template_id":"([^"]*)"')  # a key, never inside a string (its quotes are escaped)


def _write_final(pipeline: Pipeline, events: Iterable[Event], source: str, format_name: str,
                 write: Callable[[bytes], object]) -> None:
    """Spool a file's events as JSON lines, then write them with their final templates. Only lines up to the
    last one that carries a template merged later can need a new form: those are read one by one and the
    events of merged templates decoded and finalised; every line after that is copied as spooled."""
    with tempfile.TemporaryFile() as spool:
        put = spool.write
        last_line: dict[str | None, int] = {}  # template id -> the last spooled line that carries it
        for count, event in enumerate(events):
            put(event.to_json_line())
            last_line[event.template_id] = count
        merged = pipeline.merged_templates(source, format_name)
        stale = max((last_line[tid] for tid in merged if tid in last_line), default=-1)
        merged_ids = {tid.encode() for tid in merged}
        spool.seek(0)
        for _ in range(stale + 1):
            body = spool.readline()
            found = _TEMPLATE_ID.search(body)
            if found is not None and found.group(1) in merged_ids:
                event = Event.from_json(body)
                pipeline.finalize(event, format_name)
                write(event.to_json_line())
            else:
                write(body)
        while chunk := spool.read(1 << 20):
            write(chunk)
