"""The LogQL subset logai answers on its Loki-compatible read API: a stream selector with label matchers
(`=`, `!=`, `=~`, `!~`) followed by line filters (`|=`, `!=`, `|~`, `!~`), for example
`{source="checkout", level=~"ERROR|WARN"} |= "timeout" != "retry"`.

Anything else (parsers such as `| json`, label filters, `line_format`, metric queries such as `rate(...)`)
raises `UnsupportedQuery` naming the part, so the API answers 400 instead of a wrong result. The one metric
expression answered is a constant like `vector(1)+vector(1)`: Grafana's data-source health check.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field

SUPPORTED = ("stream selectors {label=\"v\", label=~\"re\", ...} with line filters |= != |~ !~; "
             "labels source, service_name and level")


class UnsupportedQuery(ValueError):
    """The query is not LogQL, or uses LogQL logai does not answer; the message names the part."""


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # =, !=, =~, !~
    value: str

    def matches(self, value: str | None) -> bool:
        text = value or ""
        if self.op in ("=", "!="):
            return (text == self.value) == (self.op == "=")
        return (re.fullmatch(self.value, text) is not None) == (self.op == "=~")  # anchored, as in Prometheus

    @property
    def matches_empty(self) -> bool:
        return self.matches("")


@dataclass(frozen=True)
class LineFilter:
    op: str  # |=, !=, |~, !~
    text: str

    def keep(self, line: str) -> bool:
        if self.op in ("|=", "!="):
            return (self.text in line) == (self.op == "|=")
        return (re.search(self.text, line) is not None) == (self.op == "|~")


@dataclass
class LogQuery:
    matchers: list[Matcher]
    filters: list[LineFilter] = field(default_factory=list)

    def keep(self, line: str) -> bool:
        return all(f.keep(line) for f in self.filters)


_STRING = r'"(?:[^"\\]|\\.)*"|`[^`]*`'
_MATCHER = re.compile(rf"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*({_STRING})\s*")
_FILTER = re.compile(rf"\s*(\|=|!=|\|~|!~)\s*({_STRING})")
_VECTOR = re.compile(r"\s*vector\(\s*(-?[0-9.]+)\s*\)\s*")
_OPS: dict[str, Callable[[float, float], float]] = {"+": operator.add, "-": operator.sub, "*": operator.mul,
                                                     "/": operator.truediv}


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"'}


def _unquote(token: str) -> str:
    """A LogQL string: "double-quoted" with Go escapes (other backslashes are kept for regexes), or `raw`."""
    if token.startswith("`"):
        return token[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), token[1:-1])


def _regex(text: str, where: str) -> None:
    try:
        re.compile(text)
    except re.error as exc:
        raise UnsupportedQuery(f"invalid regular expression {text!r} in {where}: {exc}") from exc


def parse(query: str) -> LogQuery:
    text = query.strip()
    if not text.startswith("{"):
        head = re.match(r"([A-Za-z_]+)\s*(?:\(|by\b|without\b)", text)
        what = f"metric queries ({head.group(1)}(...))" if head else repr(text[:40])
        raise UnsupportedQuery(f"unsupported LogQL: {what}; logai answers {SUPPORTED}")
    matchers, pos = [], 1
    while True:
        if text[pos:].lstrip().startswith("}"):
            pos = text.index("}", pos) + 1
            break
        found = _MATCHER.match(text, pos)
        if found is None:
            raise UnsupportedQuery(f"parse error in the stream selector near {text[pos:pos + 30]!r}")
        matcher = Matcher(found.group(1), found.group(2), _unquote(found.group(3)))
        if matcher.op in ("=~", "!~"):
            _regex(matcher.value, f"matcher {matcher.name}")
        matchers.append(matcher)
        pos = found.end()
        if text[pos:pos + 1] == ",":
            pos += 1
        elif text[pos:pos + 1] != "}":
            raise UnsupportedQuery(f"parse error in the stream selector near {text[pos:pos + 30]!r}")
    if not any(not m.matches_empty for m in matchers):
        raise UnsupportedQuery("queries require at least one regexp or equality matcher that does not have an "
                               "empty-compatible value, e.g. {source=\"app\"}")
    rest, filters = text[pos:], []
    while rest.strip():
        found = _FILTER.match(rest)
        if found is None:
            raise UnsupportedQuery(f"unsupported LogQL after the selector: {rest.strip()[:40]!r}; logai answers "
                                   f"{SUPPORTED}")
        line_filter = LineFilter(found.group(1), _unquote(found.group(2)))
        if line_filter.op in ("|~", "!~"):
            _regex(line_filter.text, f"line filter {line_filter.op}")
        filters.append(line_filter)
        rest = rest[found.end():]
    return LogQuery(matchers, filters)


def constant(query: str) -> float | None:
    """The value of `vector(a)` or `vector(a) <op> vector(b)` (Grafana's health check), else None."""
    left = _VECTOR.match(query)
    if left is None:
        return None
    rest = query[left.end():]
    if not rest.strip():
        return float(left.group(1))
    op, right = rest.strip()[:1], _VECTOR.fullmatch(rest.strip()[1:])
    if op not in _OPS or right is None:
        return None
    try:
        return _OPS[op](float(left.group(1)), float(right.group(1)))
    except ZeroDivisionError:
        return None
