"""Guessing a log's format from a sample of its lines.

A format scores the share of sample lines it splits *and* whose declared timestamp and level fields
parse (so a permissive pattern like `<A> <B> <C> <Content>` does not win by accepting anything).
The best score of at least 0.6 wins, the more specific format on ties; otherwise `generic`. A format
without header fields (`plain`: the whole line is the message) accepts anything and is never guessed.
"""

from __future__ import annotations

from logai.parsing.formats import FormatRegistry, LogFormat
from logai.parsing.headers import header_parser_for

MIN_SCORE = 0.6


def _specificity(fmt: LogFormat) -> int:
    return (fmt.log_format or "").count("<") + (2 if fmt.timestamp else 0) + (1 if fmt.level_field else 0)


def detect_format(sample: list[str], registry: FormatRegistry) -> str:
    lines = [line for line in sample if line.strip()]
    if not lines:
        return "generic"
    best: tuple[float, int, str] | None = None
    for fmt in registry:
        if fmt.kind == "generic" or (fmt.kind == "regex" and _specificity(fmt) <= 1):
            continue  # reads no header field (only <Content>): it accepts any line, so it proves nothing
        parser = header_parser_for(fmt)
        hits = 0
        for line in lines:
            header = parser.split(line)
            if header is None:
                continue
            _, _, timestamp, level = header
            if fmt.timestamp and timestamp is None:
                continue
            if fmt.level_field and level is None:
                continue
            hits += 1
        score = hits / len(lines)
        key = (score, _specificity(fmt), fmt.name)
        if score >= MIN_SCORE and (best is None or key[:2] > best[:2]):
            best = key
    return best[2] if best else "generic"
