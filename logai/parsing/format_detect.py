"""Guessing a log's format from a sample of its lines.

A format scores the share of sample lines it splits *and* whose declared timestamp and level fields
parse (so a permissive pattern like `<A> <B> <C> <Content>` does not win by accepting anything).
The best score of at least 0.6 wins; on ties, the format that reads more lines' headers itself, then the
more specific one; otherwise `generic`. A format without header fields (`plain`: the whole line is the
message) accepts anything and is never guessed. For a format whose records span lines (`multiline`), a line
that follows one of its records counts as that record's continuation (a stack trace), provided that at least
`MIN_STARTS` of the lines start records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from logai.parsing.formats import FormatRegistry, LogFormat
from logai.parsing.headers import Header, header_parser_for
from logai.parsing.lines import decode_line, sample_lines

MIN_SCORE = 0.6
MIN_STARTS = 0.1
_EXPORT_FIELD = re.compile(r"[A-Z0-9_]+(=|$)")


def _specificity(fmt: LogFormat) -> int:
    return (fmt.log_format or "").count("<") + (2 if fmt.timestamp else 0) + (1 if fmt.level_field else 0)


def detect_format(sample: list[str], registry: FormatRegistry) -> str:
    lines = [line for line in sample if line.strip()]
    if not lines:
        return "generic"
    export = next((fmt.name for fmt in registry if fmt.kind == "journal-export"), None)
    if export is not None and looks_like_export(lines):
        return export
    best: tuple[float, int, int, str] | None = None
    for fmt in registry:
        if fmt.kind in ("generic", "journal-export") or (fmt.kind == "regex" and _specificity(fmt) <= 1):
            continue  # reads no header field (only <Content>): it accepts any line, so it proves nothing
        parser = header_parser_for(fmt)
        starts = continued = 0
        for line in lines:
            if _reads(fmt, parser.split(line)):
                starts += 1
            elif fmt.multiline and starts:
                continued += 1
        if fmt.multiline and starts < MIN_STARTS * len(lines):
            continued = 0
        score = (starts + continued) / len(lines)
        key = (score, starts, _specificity(fmt), fmt.name)
        if score >= MIN_SCORE and (best is None or key[:3] > best[:3]):
            best = key
    return best[3] if best else "generic"


def detect_raw_format(sample: Iterable[bytes], registry: FormatRegistry) -> str:
    """The format of undecoded first lines (a file's or a stream's)."""
    return detect_format([decode_line(raw)[0] for raw in sample], registry)


def detect_file_format(path: Path, registry: FormatRegistry) -> str:
    """The format of a file, from its first lines (as `logai parse`, `serve --ingest` and `analyze` read it)."""
    return detect_raw_format(sample_lines(path), registry)


def looks_like_export(lines: list[str]) -> bool:
    """Whether a file's first lines are systemd's Journal Export Format: it starts with a field, most lines are
    fields (the rest are binary values), and a MESSAGE is among them."""
    fields = sum(1 for line in lines if _EXPORT_FIELD.match(line))
    return (_EXPORT_FIELD.match(lines[0]) is not None and fields >= 0.6 * len(lines)
            and any(line.startswith("MESSAGE") for line in lines))


def _reads(fmt: LogFormat, header: Header | None) -> bool:
    """Whether a line's header split, with the timestamp and level the format declares."""
    if header is None:
        return False
    _, _, timestamp, level = header
    return not (fmt.timestamp and timestamp is None) and not (fmt.level_field and level is None)
