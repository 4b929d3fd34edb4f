"""Parameter types: what kind of value a parameter is (ip, path, uuid, integer, size, ...).

Ordered recognizers, the first that matches the whole value wins. Cheap enough to run per value.
"""

from __future__ import annotations

import re
from functools import lru_cache

_RECOGNIZERS: list[tuple[str, re.Pattern[str]]] = [
    ("ip:port", re.compile(r"/?(?:\d{1,3}\.){3}\d{1,3}:\d{1,5}")),
    ("ip", re.compile(r"/?(?:\d{1,3}\.){3}\d{1,3}")),
    ("url", re.compile(r"[a-zA-Z][\w+.\-]*://\S+")),
    ("uuid", re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")),
    ("mac", re.compile(r"(?:[0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}")),
    ("timestamp", re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?")),
    ("time", re.compile(r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?")),
    ("duration", re.compile(r"\d+(?:\.\d+)?\s?(?:ns|us|µs|ms|s|sec|secs|seconds|min|mins|h|hours)")),
    ("size", re.compile(r"\d+(?:\.\d+)?\s?(?:[KMGTP]i?B|B|bytes)", re.IGNORECASE)),
    # 0x-prefixed, or a run of hex digits that mixes letters and digits (ids, hashes)
    ("hex", re.compile(r"0[xX][0-9a-fA-F]+|(?=[0-9a-fA-F]*[a-fA-F])(?=[0-9a-fA-F]*\d)[0-9a-fA-F]+")),
    ("integer", re.compile(r"[-+]?\d+")),
    ("float", re.compile(r"[-+]?\d*\.\d+(?:[eE][-+]?\d+)?|[-+]?\d+\.\d*(?:[eE][-+]?\d+)?")),
    ("path", re.compile(r"(?:[A-Za-z]:)?[/\\][^\s]*")),
    ("exception", re.compile(r"(?:[a-zA-Z_][\w$]*\.)+[A-Z]\w*(?:Exception|Error|Throwable)")),
    ("class", re.compile(r"(?:[a-z_][\w$]*\.){2,}[A-Za-z_][\w$]*")),
    ("host", re.compile(r"(?:[a-zA-Z0-9][\w\-]*\.)+[a-zA-Z]{2,}")),
    ("email", re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+")),
    ("boolean", re.compile(r"true|false|yes|no|on|off", re.IGNORECASE)),
    ("id", re.compile(r"[A-Za-z][\w\-]*?[_\-]?\d[\w\-]*")),
    ("word", re.compile(r"[A-Za-z][A-Za-z\-']*")),
]


@lru_cache(maxsize=65_536)  # values recur (a stream's ids, levels, hosts)
def value_type(value: str) -> str:
    """The type name of a parameter value; 'text' when nothing more specific fits."""
    value = value.strip()
    if not value:
        return "empty"
    for name, pattern in _RECOGNIZERS:
        if pattern.fullmatch(value):
            return name
    return "text"
