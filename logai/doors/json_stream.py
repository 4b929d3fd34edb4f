"""Streaming JSON for the doors (ijson's C backend): a body is checked and counted in a first pass, and its
records are made one at a time in a second, while they are ingested.

Decoded whole, a JSON body takes about four times its size as Python objects, and the records made from it
as much again: a 9 MB array peaked at 16 times its size. Streamed, a request holds its body, the few small
objects that frame its records (Loki stream labels, OTLP resources and scopes) and one chunk of records.
Nothing is stored before the first pass has read the whole body, so a body that is not valid JSON, or
whose shape is wrong, is refused whole with a 400 (`BadBody`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import ijson

from logai.doors.bodies import BadBody

_VALUES = frozenset(("start_map", "start_array", "string", "number", "boolean", "null"))  # what starts a value


def _bad(exc: Exception, what: str) -> BadBody:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return BadBody(f"not valid JSON ({what}): {first}")


def items(body: bytes, prefix: str, what: str = "body") -> Iterator[Any]:
    """The values at `prefix` (ijson's dotted path, `item` for an array element), one at a time."""
    try:
        yield from ijson.items(body, prefix, use_float=True)
    except ijson.JSONError as exc:
        raise _bad(exc, what) from exc


def count_items(body: bytes, prefix: str, what: str = "body") -> int:
    """How many values `items` will yield; reads the whole body, so a syntax error anywhere is found here."""
    return sum(1 for _ in items(body, prefix, what))


@dataclass
class Group:
    """One innermost frame (a Loki stream, an OTLP scope) and how many items it holds. `frames` are the
    header objects of it and of every frame around it, by name, filled in whatever order the keys came."""

    frames: list[dict[str, Any]]
    count: int = 0

    def header(self, name: str) -> Any:
        return next((frame[name] for frame in self.frames if name in frame), None)


def scan(body: bytes, *, levels: Sequence[str], headers: dict[str, str], item: str,
         check: Callable[[str, str, Any], None] | None = None, what: str = "body") -> list[Group]:
    """The groups of a nested body, in document order, with their headers and item counts.

    `levels`: the prefixes of the nested frames, outermost first (`resourceLogs.item`, then
    `resourceLogs.item.scopeLogs.item`); the innermost frames are the groups. `headers`: name -> prefix of
    the small objects kept whole (`resource`, `scope`). `item`: the prefix of the items counted (each is made
    later by `items(body, item)`). `check(prefix, event, value)` sees every event outside the headers and
    raises BadBody on a value of the wrong shape.
    """
    groups: list[Group] = []
    stack: list[dict[str, Any]] = []  # the header dict of the frame open at each level (deeper ones may be stale)
    depth_of = {prefix: depth for depth, prefix in enumerate(levels)}
    header_at = {prefix: (name, max(d for d, level in enumerate(levels) if prefix.startswith(level + ".")))
                 for name, prefix in headers.items()}
    innermost = len(levels) - 1
    builder: ijson.ObjectBuilder | None = None
    building, target = "", ""
    try:
        for prefix, event, value in ijson.parse(body, use_float=True):
            if builder is None and prefix in header_at and event in _VALUES:
                name, depth = header_at[prefix]
                builder, building, target = ijson.ObjectBuilder(), prefix, name
                frame = stack[depth]
            if builder is not None:
                builder.event(event, value)
                if prefix == building and event not in ("start_map", "start_array", "map_key"):
                    frame[target] = builder.value  # a scalar, or the end of the header's map or array
                    builder = None
                continue
            if event == "start_map" and prefix in depth_of:
                del stack[depth_of[prefix]:]
                stack.append({})
                if len(stack) - 1 == innermost:
                    groups.append(Group(list(stack)))
            elif prefix == item and event in _VALUES:
                groups[-1].count += 1
            if check is not None:
                check(prefix, event, value)
    except ijson.JSONError as exc:
        raise _bad(exc, what) from exc
    return groups
