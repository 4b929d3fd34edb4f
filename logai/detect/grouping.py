"""Grouping events as they stream: sessions keyed by an identifier, and time or count windows.

A `SessionGrouper` keys each event by the first parameter that names an identifier — by concept (`block`,
from the semantics stage) or by a value pattern (`blk_-?\\d+`) — and keeps the session's template-id
sequence. A session closes when no event has extended it for `timeout_s` of event time (or at `flush`).
A `WindowGrouper` cuts each source's stream into fixed or sliding time windows, or count windows. Both
emit `Group`s, the unit detectors score; memory is bounded by `max_open` (the oldest open group closes).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from logai.events import Event
from logai.timestamps import to_epoch


@dataclass(slots=True)
class Group:
    key: str  # session id, or "<source>@<window start>"
    source: str
    start: float
    end: float
    templates: list[str] = field(default_factory=list)
    first_line: int = 0
    last_line: int = 0


@lru_cache(maxsize=4096)
def _epoch(timestamp: str) -> float | None:
    return to_epoch(timestamp)  # lines of one second share a timestamp: convert each once


def event_time(event: Event, fallback: float) -> float:
    ts = _epoch(event.timestamp) if event.timestamp else None
    return ts if ts is not None else fallback


class SessionGrouper:
    def __init__(self, concept: str | None = None, pattern: str | None = None, timeout_s: float = 300.0,
                 max_open: int = 100_000):
        if concept is None and pattern is None:
            raise ValueError("a session key needs a concept or a value pattern")
        self.concept = concept
        self.pattern = re.compile(pattern) if pattern else None
        self.timeout_s = timeout_s
        self.max_open = max_open
        self.open: OrderedDict[str, Group] = OrderedDict()  # least recently extended first
        self._positions: dict[str | None, int] = {}  # template id -> index of its key parameter
        self.clock = 0.0

    def key_of(self, event: Event) -> str | None:
        """The session key among the event's parameters. The position of the key is a property of the
        template, so it is remembered per template and checked first."""
        params = event.params
        position = self._positions.get(event.template_id)
        if position is not None and position < len(params) and self._is_key(params[position]):
            return params[position].value
        for index, param in enumerate(params):
            if self._is_key(param):
                if len(self._positions) < 100_000:
                    self._positions[event.template_id] = index
                return param.value
        return None

    def _is_key(self, param) -> bool:
        return (self.concept is not None and param.concept == self.concept) or (
            self.pattern is not None and self.pattern.fullmatch(param.value) is not None)

    def add(self, timed: Iterable[tuple[Event, float]]) -> list[Group]:
        """Add (event, event time) pairs; returns the sessions that closed (timed out or evicted) meanwhile.
        (The hot loop of in-stream detection: the key's remembered position is tried inline first.)"""
        closed: list[Group] = []
        clock, open_, positions, is_key = self.clock, self.open, self._positions, self._is_key
        for event, when in timed:
            if when > clock:
                clock = when
            template_id = event.template_id
            if template_id is None:
                continue
            params = event.params
            position = positions.get(template_id)
            key: str | None
            if position is not None and position < len(params) and is_key(params[position]):
                key = params[position].value
            else:
                key = self.key_of(event)
                if key is None:
                    continue
            group = open_.get(key)
            if group is None:
                group = open_[key] = Group(key, event.source, clock, clock, [], event.line)
                if len(open_) > self.max_open:
                    closed.append(open_.popitem(last=False)[1])
            else:
                open_.move_to_end(key)
            group.end = clock
            group.templates.append(template_id)
            group.last_line = event.line
        self.clock = clock
        closed.extend(self.expire())
        return closed

    def expire(self) -> list[Group]:
        closed = []
        while self.open:
            key, group = next(iter(self.open.items()))
            if self.clock - group.end < self.timeout_s:
                break
            closed.append(self.open.pop(key))
        return closed

    def flush(self) -> list[Group]:
        closed = list(self.open.values())
        self.open.clear()
        return closed


class WindowGrouper:
    """Per-source windows: `size_s` with `step_s` (= size: fixed, < size: sliding), or `count` lines."""

    def __init__(self, size_s: float | None = 60.0, step_s: float | None = None, count: int | None = None):
        if (size_s is None) == (count is None):
            raise ValueError("give a window size in seconds or in lines, not both")
        self.size_s, self.count = size_s, count
        self.step_s = step_s or size_s
        self.windows: dict[str, list[Group]] = {}

    def add(self, timed: Iterable[tuple[Event, float]]) -> list[Group]:
        closed: list[Group] = []
        for event, when in timed:
            if event.template_id is None:
                continue
            open_ = self.windows.setdefault(event.source, [])
            if self.count is not None:
                if not open_:
                    open_.append(Group(f"{event.source}@{event.line}", event.source, event.line, event.line, [],
                                       event.line))
                group = open_[0]
                group.templates.append(event.template_id)
                group.last_line = group.end = event.line
                if len(group.templates) >= self.count:
                    closed.append(open_.pop())
                continue
            assert self.size_s is not None and self.step_s is not None  # a window in seconds (see __init__)
            first = (when // self.step_s) * self.step_s
            starts = {g.start for g in open_}
            start = first
            while start > when - self.size_s:  # every window [start, start + size) holding `when`
                if start not in starts:
                    open_.append(Group(f"{event.source}@{start:.0f}", event.source, start, start + self.size_s))
                start -= self.step_s
            for group in list(open_):
                if group.end <= when:
                    closed.append(group)
                    open_.remove(group)
                elif group.start <= when:
                    if not group.templates:
                        group.first_line = event.line
                    group.templates.append(event.template_id)
                    group.last_line = event.line
        return closed

    def flush(self) -> list[Group]:
        closed = [g for groups in self.windows.values() for g in groups if g.templates]
        self.windows.clear()
        return closed
