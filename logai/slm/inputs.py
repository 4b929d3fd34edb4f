"""What the small model reads: the parsed event, not the raw line.

The conceptualized template is written out with each slot filled by its value when the value carries
meaning (words, small codes, paths, exception names) and by its concept or type when it is an identifier
or a measurement that differs from line to line (block ids, addresses, timestamps, large numbers). The
same text is the verdict cache key, so the cache is exact: two events with the same key are the same
model input.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from logai.events import Event, Param

# value types replaced by a placeholder: they identify or measure, and rarely decide a label
_PLACEHOLDER_TYPES = frozenset({
    "ip:port", "ip", "url", "uuid", "mac", "timestamp", "time", "duration", "size", "hex", "float", "id",
    "email", "host",
})
_SMALL_INT = 3  # integers up to this many characters (codes, counts, small readings) are kept
_SLOT = re.compile(r"<\*(?:[^*<>]*)\*?>")


def slot_text(value: str, value_type: str | None, concept: str | None) -> str:
    kind = value_type or "text"
    if kind in _PLACEHOLDER_TYPES or (kind == "integer" and len(value.lstrip("+-")) > _SMALL_INT):
        return f"<{concept or kind}>"
    return value


def _fill_slots(event: Event, render: Callable[[Param], str]) -> str:
    """The event's template with each slot replaced by `render` of its parameter (the content when the
    event has no template, unchanged when it has no parameters)."""
    template = event.template or event.content or event.raw
    if not event.params:
        return template
    values = iter(event.params)
    out: list[str] = []
    last = 0
    for match in _SLOT.finditer(template):
        param = next(values, None)
        if param is None:
            break
        out.append(template[last:match.start()])
        out.append(render(param))
        last = match.end()
    out.append(template[last:])
    return "".join(out)


def event_text(event: Event) -> str:
    """The small model's input for `event` (also its verdict cache key)."""
    return _fill_slots(event, lambda param: slot_text(param.value, param.type, param.concept))


LEVEL_FEATURES = ("", "TRACE", "DEBUG", "INFO", "NOTICE", "WARNING", "ERROR", "CRITICAL")  # "": none or unknown
LEVEL_SEP = "\t"


_WORD = re.compile(r"[A-Za-z][A-Za-z_.:/-]{0,23}")


def folded_text(event: Event) -> str:
    """`event_text` with every value folded to its concept or type except short words (status words, codes
    such as `insufficient_funds` or `FAILED`): one input per template and word values, so a stream costs one
    encoder pass per template, not per line, and a correction applies to the template."""
    return _fill_slots(event, _folded_value)


def _folded_value(param: Param) -> str:
    word = _WORD.fullmatch(param.value) and (param.type or "text") not in _PLACEHOLDER_TYPES
    return param.value if word else f"<{param.concept or param.type or 'value'}>"


def leveled_text(event: Event) -> str:
    """`"LEVEL\ttext"`: the input of a level-aware small model (`HeadClassifier`), also its cache key."""
    return f"{event.level or ''}{LEVEL_SEP}{folded_text(event)}"


def split_leveled(value: str) -> tuple[str, str]:
    """(level, text) of a `leveled_text` string; a string without the separator has no level."""
    level, sep, text = value.partition(LEVEL_SEP)
    return (level, text) if sep and (level in LEVEL_FEATURES) else ("", value)
