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
from functools import lru_cache

from logai.events import Event, Param

# value types replaced by a placeholder: they identify or measure, and rarely decide a label
_PLACEHOLDER_TYPES = frozenset({
    "ip:port", "ip", "url", "uuid", "mac", "timestamp", "time", "duration", "size", "hex", "float", "id",
    "email", "host",
})
_SMALL_INT = 3  # integers up to this many characters (codes, counts, small readings) are kept
_SLOT = re.compile(r"<\*(?:[^*<>]*)\*?>")
_SLOT_SPLIT = re.compile(f"({_SLOT.pattern})")  # keeps the slots between the texts


def slot_text(value: str, value_type: str | None, concept: str | None) -> str:
    kind = value_type or "text"
    if kind in _PLACEHOLDER_TYPES or (kind == "integer" and len(value.lstrip("+-")) > _SMALL_INT):
        return f"<{concept or kind}>"
    return value


@lru_cache(maxsize=8192)
def _parts(template: str) -> tuple[str, ...]:
    """A template as text, slot, text, ..., text: split once per template, not once per event."""
    return tuple(_SLOT_SPLIT.split(template))


def _fill_slots(event: Event, render: Callable[[Param], str]) -> str:
    """The event's template with each slot replaced by `render` of its parameter (the content when the
    event has no template, unchanged when it has no parameters; slots past the last parameter stay)."""
    template = event.template or event.content or event.raw
    params = event.params
    if not params:
        return template
    parts = _parts(template) if template is event.template else tuple(_SLOT_SPLIT.split(template))
    out = [parts[0]]
    for i in range(1, len(parts), 2):
        index = i // 2
        out.append(render(params[index]) if index < len(params) else parts[i])
        out.append(parts[i + 1])
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
