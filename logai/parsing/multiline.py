"""Multi-line records: a Java stack trace or a Python traceback is one event, not thirty.

A format with `multiline: true` says that a line whose header does not parse continues the record before
it (the start-pattern mode of Fluent Bit's and Vector's multiline parsers, with the format's own header as
the pattern). Lines are joined with a newline; the event keeps the first line's number and offset, and its
template is mined from the first line of the message (`events.message_head`), so a trace's depth does not
make a new template. A record is cut at `max_lines` lines or `max_chars` characters so that one runaway
trace cannot hold a stream; lines before the first header stand alone. Nothing is dropped either way.

Joining happens within what a door hands over at once (a file, a request body, a fetched batch): a record
cut by a batch boundary comes out as two events, the second flagged `no_header`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from logai.events import FLAG_MULTILINE

K = TypeVar("K")


def join_continuations(items: Iterable[tuple[K, str, list[str]]], continues: Callable[[str], bool], *,
                       max_lines: int, max_chars: int) -> Iterator[tuple[list[K], str, list[str]]]:
    """(key, text, flags) per line in; (keys of its lines, joined text, merged flags) per record out, in order.
    `continues(text)` tells a continuation from a record's first line."""
    keys: list[K] = []
    parts: list[str] = []
    flags: list[str] = []
    size = 0
    for key, text, line_flags in items:
        if keys and len(keys) < max_lines and size + 1 + len(text) <= max_chars and continues(text):
            keys.append(key)
            parts.append(text)
            size += 1 + len(text)
            flags.extend(flag for flag in line_flags if flag not in flags)
            continue
        if keys:
            yield keys, _joined(parts, flags), flags
        keys, parts, flags, size = [key], [text], list(line_flags), len(text)
    if keys:
        yield keys, _joined(parts, flags), flags


def _joined(parts: list[str], flags: list[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    flags.append(FLAG_MULTILINE)
    return "\n".join(parts)
