"""What a stack trace in an event tells the person on call: the exception, its root cause, and the frame to
read first.

A multi-line record (a format with `multiline: true` joins a Java stack trace, a Python traceback or a Go panic
to the line that logged it) carries the most useful facts of an incident, but buried in dozens of frames of
the runtime and its libraries. `trace_facts` pulls out three:
- `exception`: what was thrown (Java: the first `pkg.SomeException: message` line; Python: the last
  `SomeError: message` line; Go: the `panic:` line);
- `cause`: the root cause when the trace names one apart from it (Java's last `Caused by:`; Python's first
  exception of a chain);
- `frame`: where to look: the first frame in the code of the logger that wrote the line (its package, as
  logback and log4j print it), else the first frame outside the language's own runtime (Python: the
  innermost frame outside site-packages and the standard library).
Nothing here knows any application: only the trace syntax of the three runtimes.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

_JAVA_FRAME = re.compile(r"^\s+at\s+(?:[\w.$-]+/)?([\w.$<>]+)\(([^)]*)\)")
_JAVA_EXCEPTION = re.compile(r"^(?:Caused by:\s+)?([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+"
                             r"(?:Exception|Error|Throwable|Fault|Failure)[\w$]*)(?::\s*(.*))?$")
_PY_FRAME = re.compile(r'^\s+File "([^"]+)", line (\d+), in (\S+)')
_PY_EXCEPTION = re.compile(r"^([A-Za-z_][\w.]*)(?::\s*(.*))?$")
_GO_PANIC = re.compile(r"^panic:\s+(.+)$")
_GO_FRAME = re.compile(r"^([\w./-]+\.[\w.*()]+)\(.*\)$")
_GO_FILE = re.compile(r"^\s+(\S+\.go:\d+)")
_JVM_RUNTIME = ("java.", "javax.", "jdk.", "sun.", "com.sun.", "kotlin.", "kotlinx.", "scala.")
_PY_LIBRARY = re.compile(r"site-packages|dist-packages|/lib/python\d|<frozen ")
_LINE = re.compile(r":(\d+)(?=\)?$)")  # a frame's line number, at its end or before its closing parenthesis
MESSAGE_CHARS = 160


def trace_facts(text: str, logger: str | None = None) -> dict[str, str] | None:
    """The exception, root cause and frame to read of the stack trace in `text`; None when it has none."""
    lines = text.splitlines()
    if len(lines) < 2:
        return None
    return _java(lines, logger) or _python(lines) or _go(lines)


def _said(name: str, message: str | None) -> str:
    return f"{name}: {message.strip()[:MESSAGE_CHARS]}" if message and message.strip() else name


def _java(lines: list[str], logger: str | None) -> dict[str, str] | None:
    frames = [f"{m[1]}({m[2]})" for line in lines if (m := _JAVA_FRAME.match(line))]
    if not frames:
        return None
    thrown = [(line.startswith("Caused by:"), _said(m[1], m[2])) for line in lines[1:]
              if (m := _JAVA_EXCEPTION.match(line.strip()))]
    out: dict[str, str] = {}
    if thrown:
        out["exception"] = thrown[0][1]
        causes = [said for caused, said in thrown if caused]
        if causes and causes[-1] != out["exception"]:
            out["cause"] = causes[-1]
    package = logger.rsplit(".", 1)[0] + "." if logger and "." in logger else None
    own = [f for f in frames if package and f.startswith(package)]
    outside = [f for f in frames if not f.startswith(_JVM_RUNTIME)]
    out["frame"] = (own or outside or frames)[0]
    return out


def _python(lines: list[str]) -> dict[str, str] | None:
    frames = [(m[1], m[2], m[3]) for line in lines if (m := _PY_FRAME.match(line))]
    if not frames:
        return None
    thrown = []  # the first unindented line after each `Traceback (most recent call last):` block
    in_traceback = False
    for line in lines:
        if line.startswith("Traceback (most recent call last)"):
            in_traceback = True
        elif in_traceback and line.strip() and not line[:1].isspace():
            in_traceback = False
            if m := _PY_EXCEPTION.match(line):
                thrown.append(_said(m[1], m[2]))
    out: dict[str, str] = {}
    if thrown:
        out["exception"] = thrown[-1]
        if len(thrown) > 1 and thrown[0] != thrown[-1]:
            out["cause"] = thrown[0]
    own = [f for f in frames if not _PY_LIBRARY.search(f[0])]
    path, number, function = (own or frames)[-1]
    out["frame"] = f"{function} ({path}:{number})"
    return out


def _go(lines: list[str]) -> dict[str, str] | None:
    panic = next((m[1] for line in lines if (m := _GO_PANIC.match(line.strip()))), None)
    if panic is None:
        return None
    out = {"exception": f"panic: {panic[:MESSAGE_CHARS]}"}
    for i, line in enumerate(lines[:-1]):
        if (m := _GO_FRAME.match(line.strip())) and not m[1].startswith(("runtime.", "runtime/", "panic(")) \
                and (where := _GO_FILE.match(lines[i + 1])):
            out["frame"] = f"{m[1]} ({where[1]})"
            break
    return out


def fingerprint(facts: Any) -> str | None:
    """Where a trace failed, whatever its message and line numbers: `java.net.SocketTimeoutException at
    c.e.payments.InventoryClient.reserve(InventoryClient.java)`; None without a frame. Two templates with one
    fingerprint are one failure logged two ways."""
    if not isinstance(facts, dict) or not facts.get("frame"):
        return None
    thrown = str(facts.get("exception") or "").split(":", 1)[0]
    return f"{thrown} at {_LINE.sub('', str(facts['frame']))}"


SharedTrace = tuple[dict[str, tuple[str, int]], int]  # {fact: (value, samples saying it)}, samples with a trace


def shared_trace(samples: list[dict[str, Any]]) -> SharedTrace | None:
    """What an incident's samples' stack traces share: ({fact: (value, samples saying it)}, samples with a
    trace), or None when no sample has one. The most frequent exception, then the most frequent cause and
    frame among the samples that threw it; a frame is counted by its function, with the lines the samples name."""
    traces = [s["trace"] for s in samples if isinstance(s.get("trace"), dict)]
    if not traces:
        return None
    (key, count), = Counter(t.get("exception", "") for t in traces).most_common(1)
    same = [t for t in traces if t.get("exception", "") == key]
    facts = {"exception": (key, count)} if key else {}
    causes = Counter(t["cause"] for t in same if t.get("cause")).most_common(1)
    if causes:
        facts["cause"] = causes[0]
    places = Counter(_LINE.sub("", t["frame"]) for t in same if t.get("frame")).most_common(1)
    if places:  # one function, whatever line of it: `Client.reserve(Client.java:60,61)`
        place, count = places[0]
        lines = sorted({m[1] for t in same if t.get("frame") and _LINE.sub("", t["frame"]) == place
                        and (m := _LINE.search(t["frame"]))}, key=int)
        facts["frame"] = (_with_lines(place, ",".join(lines)) if lines else place, count)
    return facts, len(traces)


def _with_lines(place: str, lines: str) -> str:
    return place[:-1] + f":{lines})" if place.endswith(")") else f"{place}:{lines}"
