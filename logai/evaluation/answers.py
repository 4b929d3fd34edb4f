"""Reading an LLM's free-text answer the LogEval way: the label word it contains, the fault type it names,
the template after the "Answer" keyword."""

from __future__ import annotations

import re
from collections.abc import Sequence

ANOMALY_WORDS = {"en": ("abnormal", "normal"), "zh": ("异常", "正常")}
_ANSWER = re.compile(r"(?:answer|答案)\s*[:：]?", re.IGNORECASE)


def anomaly_label(text: str, lang: str = "en") -> str:
    """`abnormal` when the answer says so (checked first: 'normal' is inside 'abnormal'), else `normal`."""
    abnormal, normal = ANOMALY_WORDS[lang]
    lowered = text.lower()
    if abnormal in lowered and not re.search(rf"\bnot {abnormal}\b", lowered):
        return abnormal
    return normal


def choice_label(text: str, choices: Sequence[str]) -> str:
    """The offered choice the answer names (the longest when several match), or '' when none does."""
    lowered = text.lower()
    named = [c for c in choices if c.lower() in lowered]
    return max(named, key=len) if named else ""


def template_answer(text: str) -> str:
    """The template after the last "Answer:" keyword (or the whole text), first line, quotes stripped."""
    parts = _ANSWER.split(text)
    answer = parts[-1] if len(parts) > 1 else text
    lines = [line.strip() for line in answer.strip().splitlines() if line.strip()]
    return lines[0].strip("`'\" ") if lines else ""
