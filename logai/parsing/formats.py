"""Log formats: how a raw line splits into header fields and the message content.

Formats are data, not code: each is a YAML entry under `configs/formats/` (plus any `formats_dir` a user
configures). Most are Loghub-style format strings such as `<Date> <Time> <Level> <Component>: <Content>`;
a few structured kinds (JSON lines, logfmt) and a sniffing fallback (`generic`) cover the rest.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from logai.config import ConfigError, MaskingOverride, read_yaml
from logai.paths import config_dir

if TYPE_CHECKING:
    from logai.config import Settings


class TimestampSpec(BaseModel):
    """Which header fields hold the time, and the strptime formats to try (`epoch` for Unix seconds)."""

    model_config = ConfigDict(extra="forbid")
    fields: list[str]
    formats: list[str]


class DrainOverride(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sim_th: float | None = Field(None, gt=0, le=1)
    depth: int | None = Field(None, ge=3)


class LogFormat(BaseModel):
    """One named log format."""

    model_config = ConfigDict(extra="forbid")
    name: str = ""
    description: str = ""
    # journal-export: records of NAME=value fields, read by `logai parse` and POST /upload (doors.journal)
    kind: Literal["regex", "json", "logfmt", "generic", "journal-export"] = "regex"
    log_format: str | None = None  # for kind=regex: Loghub format string with a <Content> field
    field_patterns: dict[str, str] = Field(default_factory=dict)  # regex per field; default `.*?`
    message_keys: list[str] = Field(default_factory=lambda: ["message", "msg", "log", "text"])
    level_keys: list[str] = Field(default_factory=lambda: ["level", "severity", "lvl", "loglevel"])
    # `date` is Fluent Bit's default time key
    time_keys: list[str] = Field(default_factory=lambda: ["timestamp", "time", "ts", "@timestamp", "t", "date"])
    timestamp: TimestampSpec | None = None
    level_field: str | None = None
    syslog_pri_field: str | None = None  # field holding a syslog <PRI>: level = severity (PRI % 8)
    # this format's own level spellings (Redis writes `*` for notice), before the common ones
    levels: dict[str, str] = Field(default_factory=dict)
    # a line whose header does not parse continues the record before it (stack traces, tracebacks)
    multiline: bool = False
    masking: MaskingOverride = Field(default_factory=MaskingOverride)
    drain: DrainOverride = Field(default_factory=DrainOverride)

    @model_validator(mode="after")
    def _regex_needs_content(self) -> LogFormat:
        if self.kind == "regex" and (not self.log_format or "<Content>" not in self.log_format):
            raise ValueError("a regex format needs a log_format string with a <Content> field")
        return self


class UnknownFormatError(KeyError):
    """Raised for a format name that is not defined; the message lists the known ones."""

    def __init__(self, name: str, known: list[str]):
        self.name = name
        self.known = known
        super().__init__(name)

    def __str__(self) -> str:
        return f"unknown log format {self.name!r}; known formats: {', '.join(self.known)}"


class FormatRegistry:
    """All formats known to this process, by name (case-insensitive lookup)."""

    def __init__(self, formats: dict[str, LogFormat]):
        self._formats = dict(formats)
        self._by_lower = {name.lower(): name for name in self._formats}

    @classmethod
    def load(cls, extra_dirs: list[Path] | None = None) -> FormatRegistry:
        dirs = [config_dir() / "formats", *(extra_dirs or [])]
        formats: dict[str, LogFormat] = {}
        for folder in dirs:
            if not folder.is_dir():
                raise ConfigError(f"formats folder not found: {folder}")
            for path in sorted(folder.glob("*.yaml")):
                formats.update(load_format_file(path))
        return cls(formats)

    @classmethod
    def for_settings(cls, settings: Settings) -> FormatRegistry:
        """The shipped formats plus the user's `formats_dir`."""
        return cls.load([settings.formats_dir] if settings.formats_dir else [])

    def names(self) -> list[str]:
        return sorted(self._formats)

    def get(self, name: str) -> LogFormat:
        key = self._by_lower.get(name.lower())
        if key is None:
            raise UnknownFormatError(name, self.names())
        return self._formats[key]

    def __iter__(self):
        return iter(self._formats.values())

    def __len__(self) -> int:
        return len(self._formats)


def load_format_file(path: Path) -> dict[str, LogFormat]:
    """Read one YAML file of `{name: format}` entries; errors name the file and the entry."""
    try:
        data = read_yaml(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    entries = data.get("formats", data) if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise ConfigError(f"{path}: expected a mapping of format names to definitions")
    out: dict[str, LogFormat] = {}
    for name, spec in entries.items():
        try:
            fmt = LogFormat.model_validate({**(spec or {}), "name": str(name)})
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"{path}: format {name!r}: {problems}") from exc
        out[fmt.name] = fmt
    return out
