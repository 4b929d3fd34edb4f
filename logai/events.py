"""The structured event: what every stage of logai produces and consumes.

One raw line becomes one `Event`, whatever happens to it: a line that fails header parsing, carries
invalid UTF-8 or is empty still yields an event, with `flags` saying what went wrong. The JSON form is
stable (fixed key order, schema version in `v`) because the CLI, the store and the Kafka sink all emit it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

SCHEMA_VERSION = 3  # 2 added `conceptualized`, 3 `pairs` and params' `origin`; older records still load

# Levels that count as errors (upper case; header parsing normalises most spellings to ERROR and CRITICAL):
# the error-rate detector and the console's error counts read the same set.
WILDCARD = "<*>"  # a template's variable part, as Drain and Loghub write it
ERROR_LEVELS = frozenset({"ERROR", "FATAL", "CRITICAL", "SEVERE", "EMERG", "ALERT", "CRIT", "ERR", "E", "F"})

# Flags an event may carry. Kept as plain strings so they survive JSON untouched.
FLAG_NO_HEADER = "no_header"  # no format matched: the whole line is the content
FLAG_INVALID_UTF8 = "invalid_utf8"  # undecodable bytes, kept as \\xNN escapes in `raw`
FLAG_NUL_BYTES = "nul_bytes"
FLAG_EMPTY = "empty"
FLAG_TRUNCATED = "truncated"  # content longer than the miner's limit: template mined on a prefix
FLAG_PARAMS_UNALIGNED = "params_unaligned"  # template did not align with the content; params are masks
FLAG_UNMATCHED = "unmatched"  # read-only matching (analyze) found no known template: the masked content stands in
FLAG_MULTILINE = "multiline"  # several lines joined into one record (a stack trace): `raw` and `content` hold them


def message_head(content: str) -> str:
    """The part of a message that templates are mined from: its first line. The rest of a multi-line message
    (a stack trace, a traceback) stays in `content` and `raw` but is not mined, so a trace's depth does not
    make another template. A message whose first line is blank is mined whole."""
    if "\n" not in content:
        return content
    head = content.partition("\n")[0]
    return head if head.strip() else content


@dataclass(slots=True)
class Param:
    """One variable part of a message: its text, and (once semantics run) its type and concept, with where
    the concept came from: `stated` by this line, or `kb` (an earlier line of the source stated this value
    as an instance of it: line `taught_by`)."""

    value: str
    type: str | None = None
    concept: str | None = None
    origin: str | None = None  # "stated" or "kb" when there is a concept
    taught_by: int | None = None  # for "kb": the line of this source that stated it

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"value": self.value, "type": self.type, "concept": self.concept}
        if self.origin is not None:
            out["origin"] = self.origin
            if self.taught_by is not None:
                out["taught_by"] = self.taught_by
        return out


@dataclass(slots=True)
class Event:
    """A parsed log line."""

    raw: str
    source: str
    line: int  # 1-based line number within the source
    offset: int | None = None  # byte offset of the line within the source, when known
    timestamp: str | None = None  # ISO 8601, normalised from the header when possible
    level: str | None = None
    fields: dict[str, str] = field(default_factory=dict)  # header fields, as written
    content: str = ""
    template_id: str | None = None
    template: str | None = None
    params: list[Param] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    conceptualized: str | None = None  # template with instances as <*concept*> (semantics stage)
    pairs: list[tuple[str, str]] | None = None  # the (concept, instance) pairs the message states (semantics)

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": SCHEMA_VERSION,
            "source": self.source,
            "line": self.line,
            "offset": self.offset,
            "timestamp": self.timestamp,
            "level": self.level,
            "template_id": self.template_id,
            "template": self.template,
            "conceptualized": self.conceptualized,
            "params": [p.to_dict() for p in self.params],
            "pairs": self.pairs,  # tuples are JSON arrays
            "fields": self.fields,
            "content": self.content,
            "raw": self.raw,
            "flags": self.flags,
        }

    def to_json(self) -> bytes:
        return orjson.dumps(self.to_dict())

    def to_json_line(self) -> bytes:
        """`to_json` with its newline: one write per line for JSON Lines output."""
        return orjson.dumps(self.to_dict(), option=orjson.OPT_APPEND_NEWLINE)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        version = data.get("v", SCHEMA_VERSION)
        if version not in (1, 2, SCHEMA_VERSION):
            raise ValueError(f"unsupported event schema version {version!r} (expected {SCHEMA_VERSION})")
        return cls(
            raw=data["raw"],
            source=data["source"],
            line=data["line"],
            offset=data.get("offset"),
            timestamp=data.get("timestamp"),
            level=data.get("level"),
            fields=dict(data.get("fields") or {}),
            content=data.get("content", ""),
            template_id=data.get("template_id"),
            template=data.get("template"),
            params=[Param(**p) for p in data.get("params") or []],
            flags=list(data.get("flags") or []),
            conceptualized=data.get("conceptualized"),
            pairs=[(str(c), str(i)) for c, i in data["pairs"]] if data.get("pairs") is not None else None,
        )

    @classmethod
    def from_json(cls, blob: bytes | str) -> Event:
        return cls.from_dict(orjson.loads(blob))


@dataclass(slots=True)
class Record:
    """One log record from a door whose protocol already splits it (OTLP, Loki push, syslog, JSON with a
    per-record source): the message to mine, plus the time, level and fields the protocol carries."""

    source: str
    content: str
    key: str  # the ingest key: a retried delivery of the same record carries the same key
    raw: str = ""  # what is kept as the event's raw text (default: the content)
    timestamp: str | None = None  # ISO 8601
    level: str | None = None
    fields: dict[str, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
