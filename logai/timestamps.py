"""Header timestamps to ISO 8601, fast.

`datetime.strptime` costs ~15 µs a call, and short logs have few repeated timestamps. Formats made of the
common directives (%Y %y %m %d %H %M %S %f %b %B %a %A %z and literals) are compiled once into a regex with
the same digit rules as `strptime`; anything else falls back to `strptime`. Formats without a year take
the current UTC year, a time of day alone today's date; `epoch` reads Unix seconds (or milli-, micro- or
nanoseconds) and `iso` reads ISO 8601.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}
_DIRECTIVES = {
    "Y": r"(?P<Y>\d{4})",
    "y": r"(?P<y>\d{2})",
    "m": r"(?P<m>1[0-2]|0[1-9]|[1-9])",
    "d": r"(?P<d>3[01]|[12]\d|0[1-9]|[1-9]| [1-9])",
    "H": r"(?P<H>2[0-3]|[01]\d|\d)",
    "M": r"(?P<M>[0-5]\d|\d)",
    "S": r"(?P<S>6[01]|[0-5]\d|\d)",
    "f": r"(?P<f>\d{1,6})",
    "b": r"(?P<b>[A-Za-z]{3,9})",
    "B": r"(?P<b>[A-Za-z]{3,9})",
    "a": r"(?:[A-Za-z]{3,9})",
    "A": r"(?:[A-Za-z]{3,9})",
    "z": r"(?P<z>[+-]\d{2}:?\d{2}|Z)",
}
_FRACTION_TOO_LONG = re.compile(r"(\.\d{6})\d+")  # nanoseconds: datetime keeps microseconds


@lru_cache(maxsize=256)
def _compile(fmt: str) -> re.Pattern[str] | None:
    out, i = [], 0
    while i < len(fmt):
        char = fmt[i]
        if char == "%" and i + 1 < len(fmt):
            directive = fmt[i + 1]
            if directive == "%":
                out.append("%")
            elif directive in _DIRECTIVES:
                if f"(?P<{directive}>" in "".join(out) and directive not in "aA":
                    return None  # a directive twice: leave it to strptime
                out.append(_DIRECTIVES[directive])
            else:
                return None
            i += 2
        else:
            out.append(r"\s+" if char.isspace() else re.escape(char))
            i += 1
    return re.compile("".join(out) + "$", re.IGNORECASE)


def _from_match(found: re.Match[str]) -> datetime:
    g = found.groupdict()
    if g.get("Y"):
        year = int(g["Y"])
    elif g.get("y"):
        year = 2000 + int(g["y"]) if int(g["y"]) < 69 else 1900 + int(g["y"])
    else:
        year = datetime.now(UTC).year
    day = int(g.get("d") or 1)
    if g.get("b"):
        month = _MONTHS.get(g["b"][:3].lower())
        if month is None:
            raise ValueError(f"unknown month {g['b']!r}")
    elif g.get("m"):
        month = int(g["m"])
    elif not g.get("d"):  # a time of day alone (Logback's default pattern): today
        today = datetime.now(UTC)
        year, month, day = today.year, today.month, today.day
    else:
        month = 1
    micro = int((g.get("f") or "0").ljust(6, "0"))
    tz = None
    if g.get("z"):
        z = g["z"]
        if z.upper() == "Z":
            tz = UTC
        else:
            z = z.replace(":", "")
            sign = -1 if z[0] == "-" else 1
            tz = timezone(sign * timedelta(hours=int(z[1:3]), minutes=int(z[3:5])))
    return datetime(year, month, day, int(g.get("H") or 0), int(g.get("M") or 0),
                    int(g.get("S") or 0), micro, tz)


def parse_timestamp(text: str, formats: tuple[str, ...]) -> str | None:
    """The first of `formats` that reads `text`, as ISO 8601; None when none does."""
    text = text.strip()
    for fmt in formats:
        try:
            if fmt == "epoch":
                value = float(text)
                while value > 1e11:  # milliseconds, microseconds (journald) or nanoseconds
                    value /= 1000.0
                return datetime.fromtimestamp(value, tz=UTC).isoformat()
            if fmt == "iso":
                iso = _FRACTION_TOO_LONG.sub(r"\1", text.replace("Z", "+00:00"))
                return datetime.fromisoformat(iso).isoformat()
            pattern = _compile(fmt)
            if pattern is not None:
                found = pattern.match(text)
                if found is None:
                    continue
                return _from_match(found).isoformat()
            stamp = datetime.strptime(text, fmt)
            if "%Y" not in fmt and "%y" not in fmt:
                stamp = stamp.replace(year=datetime.now(UTC).year)
            return stamp.isoformat()
        except (ValueError, OverflowError, OSError):
            continue
    return None


def to_epoch(timestamp: str | None) -> float | None:
    """ISO 8601 to Unix seconds; a timestamp without zone is taken as UTC."""
    if not timestamp:
        return None
    try:
        parsed = datetime.fromisoformat(timestamp)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
