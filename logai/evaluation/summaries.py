"""Summaries of a window of log lines from their parsed templates (LogEval's summary task).

LogEval's reference summaries list the recurring events as short phrases ("Running task; Found block;
Finished task;"), which is what the constant text of the templates is. The extractive summary takes the
longest constant run of each template, most frequent first. The LLM sees the templates with their counts
and answers under a JSON-schema constraint whose items are those phrases, so a small model picks and
orders events instead of echoing the prompt.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

_SPLIT = re.compile(r"<\*>|\s[:=|]\s|[\[\]()]")
_EDGE = " .,;:=-_/'\"|"


def key_phrase(template: str) -> str:
    """The longest run of constant text in a template, trimmed of punctuation."""
    runs = [run.strip(_EDGE) for run in _SPLIT.split(template)]
    runs = [run for run in runs if re.search(r"[A-Za-z\u4e00-\u9fff]{2}", run)]
    return max(runs, key=len) if runs else ""


def key_phrases(templates: Counter[str]) -> list[str]:
    """Distinct key phrases of the templates, most frequent template first."""
    phrases: list[str] = []
    for template, _ in templates.most_common():
        phrase = key_phrase(template)
        if phrase and phrase not in phrases:
            phrases.append(phrase)
    return phrases


def as_summary(phrases: list[str]) -> str:
    return "".join(f"{p}; " for p in phrases).strip()


def extractive_summary(templates: Counter[str], max_phrases: int = 6) -> str:
    """`phrase; phrase;` for the most frequent templates."""
    return as_summary(key_phrases(templates)[:max_phrases])


def summary_messages(templates: Counter[str], limit: int = 10) -> list[dict[str, str]]:
    listing = "\n".join(f"{n} x {t}" for t, n in templates.most_common(limit))
    return [{"role": "user", "content":
             "These log templates occurred (count x template, <*> marks a variable):\n"
             f"{listing}\n"
             'Summarise them: answer with JSON {"events": [...]}, the key events as short phrases, '
             "the most frequent and most important first."}]


def summary_constraint(phrases: list[str], max_phrases: int = 6) -> dict[str, Any]:
    """JSON schema: `{"events": [phrases, each one of the candidates]}`."""
    return {"type": "object",
            "properties": {"events": {"type": "array", "items": {"enum": phrases}, "minItems": 1,
                                      "maxItems": min(max_phrases, len(phrases))}},
            "required": ["events"]}


def read_summary(text: str) -> str:
    """The LLM's JSON answer as `phrase; phrase;` (repeats dropped); ValueError when it is not that JSON."""
    try:
        events = json.loads(text)["events"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"not a summary answer: {text[:80]!r}") from exc
    return as_summary(list(dict.fromkeys(str(e) for e in events)))
