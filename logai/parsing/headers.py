"""Header parsers: split one decoded line into (fields, content, timestamp, level).

Each parser returns `None` when the line does not fit its format, so the caller can keep the line
whole and flag it. They are on the hot path: no per-line allocation beyond the match itself.
"""

from __future__ import annotations

import re
from typing import Protocol

import orjson

from logai.parsing.formats import LogFormat, TimestampSpec
from logai.timestamps import parse_timestamp

# (fields, content, timestamp, level)
Header = tuple[dict[str, str], str, str | None, str | None]

_LEVELS = {
    "TRACE": "TRACE", "T": "TRACE", "V": "TRACE", "VERBOSE": "TRACE", "FINEST": "TRACE", "FINER": "TRACE",
    "DEBUG": "DEBUG", "D": "DEBUG", "DBG": "DEBUG", "FINE": "DEBUG",
    "INFO": "INFO", "I": "INFO", "INFORMATION": "INFO", "INF": "INFO",
    "NOTICE": "NOTICE", "N": "NOTICE",
    "WARN": "WARNING", "WARNING": "WARNING", "W": "WARNING", "WRN": "WARNING",
    "ERROR": "ERROR", "E": "ERROR", "ERR": "ERROR", "SEVERE": "ERROR",
    "CRITICAL": "CRITICAL", "CRIT": "CRITICAL", "FATAL": "CRITICAL", "F": "CRITICAL", "ALERT": "CRITICAL",
    "EMERG": "CRITICAL", "EMERGENCY": "CRITICAL", "PANIC": "CRITICAL", "FAILURE": "ERROR",
}
_SYSLOG_SEVERITY = ["CRITICAL", "CRITICAL", "CRITICAL", "ERROR", "WARNING", "NOTICE", "INFO", "DEBUG"]


def normalize_level(value: str | None) -> str | None:
    """Map the many spellings of a level to TRACE/DEBUG/INFO/NOTICE/WARNING/ERROR/CRITICAL, else None."""
    if not value:
        return None
    known = _LEVELS.get(value)  # fast path: the spelling is already a key
    if known is not None:
        return known
    return _LEVELS.get(value.strip().strip("[]<>").upper())


def level_from_syslog_pri(pri: str) -> str | None:
    try:
        return _SYSLOG_SEVERITY[int(pri.strip("<>")) % 8]
    except (ValueError, IndexError):
        return None


class HeaderParser(Protocol):
    fmt: LogFormat

    def split(self, line: str) -> Header | None: ...


_META = set("()[]{}?*+|^$.")


def _literal_prefix(part: str) -> tuple[str, str]:
    """Split a format-string part into its leading literal text (escapes kept, blanks as `\\s+`) and the rest."""
    end = 0
    while end < len(part):
        if part[end] == "\\" and end + 1 < len(part):
            end += 2
        elif part[end] in _META:
            break
        else:
            end += 1
    return re.sub(" +", r"\\s+", part[:end]), part[end:]


def format_string_to_pattern(log_format: str, field_patterns: dict[str, str] | None = None) -> str:
    """Loghub's `<Field>` format strings as a regex pattern with one named group per field.

    A free field (`.*?`) is matched atomically with the literal text that follows it, `(?>(?P<F>.*?):\\s+)`:
    it ends at the first place that text occurs and never backtracks past it. Without that, a long line
    that does not fit made the regex try every split of every field: seconds for one 4 KB line."""
    field_patterns = field_patterns or {}
    parts = re.split(r"(<\w+>)", log_format)
    pattern = ""
    rest: str | None = None  # the part after the literal text already placed in the previous field's atomic group
    for index, part in enumerate(parts):
        if part.startswith("<") and part.endswith(">") and len(part) > 2:
            name = part[1:-1]
            following = parts[index + 1] if index + 1 < len(parts) else ""
            # A field followed only by spaces (then another field) is one token: `\S+` cannot
            # backtrack into the spaces.
            default = r"\S+" if following and not following.strip() else ".*?"
            group = f"(?P<{name}>{field_patterns.get(name, default)})"
            literal, after = _literal_prefix(following)
            if name not in field_patterns and default == ".*?" and literal.replace(r"\s+", ""):
                pattern += f"(?>{group}{literal})"
                rest = after
            else:
                pattern += group
        elif rest is not None:
            pattern += rest
            rest = None
        else:
            pattern += re.sub(" +", r"\\s+", part)
    # A trailing lazy Content group followed by `$` matches the same text greedily, much faster.
    if pattern.endswith("(?P<Content>.*?)"):
        pattern = pattern[: -len("(?P<Content>.*?)")] + "(?P<Content>.*)"
    return "^" + pattern + "$"


def format_string_to_regex(log_format: str, field_patterns: dict[str, str] | None = None) -> re.Pattern[str]:
    return re.compile(format_string_to_pattern(log_format, field_patterns), re.DOTALL)


class _HeaderBase:
    """Shared timestamp and level extraction from named fields."""

    def __init__(self, fmt: LogFormat):
        self.fmt = fmt
        spec: TimestampSpec | None = fmt.timestamp
        self._ts_fields = tuple(spec.fields) if spec else ()
        self._ts_formats = tuple(spec.formats) if spec else ()
        self._ts_cache: dict[str, str | None] = {}  # neighbouring lines share their timestamp text
        self._level_cache: dict[str | None, str | None] = {}  # a format writes a handful of level spellings

    def _timestamp(self, fields: dict[str, str]) -> str | None:
        if not self._ts_fields:
            return None
        try:
            if len(self._ts_fields) == 1:
                text = fields[self._ts_fields[0]]
            else:
                text = " ".join([fields[name] for name in self._ts_fields])
        except KeyError:
            return None
        return self._parse_timestamp(text, self._ts_formats)

    def _parse_timestamp(self, text: str, formats: tuple[str, ...]) -> str | None:
        """`parse_timestamp`, remembered: neighbouring lines share their timestamp text (bounded)."""
        cached = self._ts_cache.get(text)
        if cached is None and text not in self._ts_cache:
            if len(self._ts_cache) >= 4096:
                self._ts_cache.clear()
            cached = self._ts_cache[text] = parse_timestamp(text, formats)
        return cached

    def _level(self, fields: dict[str, str]) -> str | None:
        if self.fmt.syslog_pri_field and fields.get(self.fmt.syslog_pri_field):
            return level_from_syslog_pri(fields[self.fmt.syslog_pri_field])
        if self.fmt.level_field:
            return self._normalize_level(fields.get(self.fmt.level_field))
        return None

    def _normalize_level(self, value: str | None) -> str | None:
        try:
            return self._level_cache[value]
        except KeyError:
            pass
        own = self.fmt.levels.get(value) if value is not None and self.fmt.levels else None
        level = normalize_level(own or value)
        if len(self._level_cache) < 256:  # bounded: a level field that holds arbitrary text is not cached
            self._level_cache[value] = level
        return level


class RegexHeaderParser(_HeaderBase):
    """Loghub-style format strings (`<Date> <Time> <Level> <Component>: <Content>`)."""

    def __init__(self, fmt: LogFormat):
        super().__init__(fmt)
        assert fmt.log_format is not None
        self.regex = format_string_to_regex(fmt.log_format, fmt.field_patterns)
        self._has_optional_groups = ")?" in self.regex.pattern or "|" in self.regex.pattern

    def split(self, line: str) -> Header | None:
        match = self.regex.match(line.strip())
        if match is None:
            return None
        fields = match.groupdict()
        if self._has_optional_groups:
            fields = {k: v for k, v in fields.items() if v is not None}
        content = fields.pop("Content", "")
        return fields, content, self._timestamp(fields), self._level(fields)


def _scalar(value: object) -> str:
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


def _first_key(obj: dict, keys: list[str]) -> str | None:
    for key in keys:
        if key in obj and obj[key] is not None:
            return key
    return None


class _KeyValueHeader(_HeaderBase):
    """JSON and logfmt lines: the message, level and time come from configurable keys."""

    def _from_mapping(self, obj: dict[str, object], line: str) -> Header:
        msg_key = _first_key(obj, self.fmt.message_keys)
        # Docker's json-file keeps each line's newline in `log`
        content = _scalar(obj[msg_key]).rstrip("\r\n") if msg_key else line.strip()
        fields = {k: _scalar(v) for k, v in obj.items() if k != msg_key}
        level_key = _first_key(obj, self.fmt.level_keys)
        level = self._normalize_level(fields.get(level_key)) if level_key else None
        time_key = _first_key(obj, self.fmt.time_keys)
        timestamp = None
        if time_key:
            raw_time = obj[time_key]
            fmts = ("epoch",) if isinstance(raw_time, int | float) else ("iso", *self._ts_formats)
            timestamp = parse_timestamp(str(raw_time), fmts)
        return fields, content, timestamp, level


class JsonHeaderParser(_KeyValueHeader):
    """One JSON object per line (message key configurable, e.g. `message`, `msg`, `log`)."""

    def split(self, line: str) -> Header | None:
        stripped = line.strip()
        if not stripped.startswith("{"):
            return None
        try:
            obj = orjson.loads(stripped)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(obj, dict):
            return None
        return self._from_mapping(obj, stripped)


_LOGFMT_PAIR = re.compile(r'([\w.\-/@]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)')
_LOGFMT_LINE = re.compile(r'^\s*(?:[\w.\-/@]+=(?:"(?:[^"\\]|\\.)*"|[^\s"]*)\s*)+$')


class LogfmtHeaderParser(_KeyValueHeader):
    """`key=value key2="quoted value"` lines (Heroku / Go logfmt)."""

    def split(self, line: str) -> Header | None:
        stripped = line.strip()
        if not _LOGFMT_LINE.match(stripped):
            return None
        obj: dict[str, object] = {}
        for key, value in _LOGFMT_PAIR.findall(stripped):
            if value.startswith('"'):
                value = value[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            obj[key] = value
        if len(obj) < 2:
            return None
        return self._from_mapping(obj, stripped)


_GENERIC = re.compile(
    r"""^\s*
    (?P<Time>
        \d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?   # ISO 8601
      | \d{4}/\d{2}/\d{2}\ \d{2}:\d{2}:\d{2}(?:[.,]\d+)?                            # 2024/01/15 10:00:00
      | [A-Z][a-z]{2}\ +\d{1,2}\ \d{2}:\d{2}:\d{2}                                  # Jan  5 10:00:00
      | \[[^\]]{8,40}\]                                                             # [anything time-like]
    )?
    \s*
    (?:[\[<(]?(?P<Level>TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|ERR|CRIT|CRITICAL|FATAL|SEVERE|ALERT|EMERG)
       [\]>)]?:?(?=\s|$))?
    \s*
    (?P<Content>.*)$""",
    re.VERBOSE | re.IGNORECASE | re.DOTALL,
)
_GENERIC_TIME_FORMATS = (
    "iso", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S,%f", "%b %d %H:%M:%S",
    "[%a %b %d %H:%M:%S %Y]", "[%d/%b/%Y:%H:%M:%S %z]", "[%Y-%m-%d %H:%M:%S]",
)


class GenericHeaderParser(_HeaderBase):
    """Fallback: sniff a leading timestamp and a level word; whatever follows is the content."""

    def split(self, line: str) -> Header | None:
        match = _GENERIC.match(line)
        if match is None or (match.group("Time") is None and match.group("Level") is None):
            return None
        fields = {k: v for k, v in match.groupdict().items() if v is not None}
        content = fields.pop("Content", "")
        time_text = fields.get("Time")
        timestamp = self._parse_timestamp(time_text, _GENERIC_TIME_FORMATS) if time_text else None
        return fields, content, timestamp, self._normalize_level(fields.get("Level"))


def header_parser_for(fmt: LogFormat) -> HeaderParser:
    if fmt.kind == "regex":
        return RegexHeaderParser(fmt)
    if fmt.kind == "json":
        return JsonHeaderParser(fmt)
    if fmt.kind == "logfmt":
        return LogfmtHeaderParser(fmt)
    return GenericHeaderParser(fmt)
