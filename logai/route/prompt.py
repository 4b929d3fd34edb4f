"""The LLM's prompt for a routed event, and the JSON shape its answer is constrained to.

Retrieved cases are written as worked examples in the very format the answer takes, the most similar
last (small models lean on what they read last). The event is shown with its semantics: the
conceptualized template, typed parameters and any detector evidence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from logai.events import Event
from logai.llm.types import Constraint
from logai.route.cases import Case
from logai.route.tasks import Task

REASON_MAX_CHARS = 120
SYSTEM = "You are an expert site reliability engineer who analyses logs. Answer with JSON only."


def verdict_constraint(labels: Sequence[str]) -> Constraint:
    """`{"label": <one of labels>, "reason": "..."}`; the label comes first so it is decided early."""
    return Constraint.json_schema({
        "type": "object",
        "properties": {"label": {"enum": list(labels)},
                       "reason": {"type": "string", "maxLength": REASON_MAX_CHARS}},
        "required": ["label", "reason"],
    })


LOG_CHARS = 1500  # per text in a prompt: a 100 KB line must not overflow the model's context (or take seconds)
CASE_CHARS = 400


def describe_event(event: Event) -> str:
    text = event.content or event.raw
    lines = [f"Log: {text[:LOG_CHARS]}"]
    template = event.conceptualized or event.template
    if template and template != text:
        lines.append(f"Template: {template[:LOG_CHARS]}")
    if event.params:
        typed = ", ".join(f"{p.value[:80]} ({p.concept or p.type or 'value'})" for p in event.params[:12])
        lines.append(f"Parameters: {typed}")
    if event.level:
        lines.append(f"Level: {event.level}")
    return "\n".join(lines)


def _answer(label: str, reason: str) -> str:
    return json.dumps({"label": label, "reason": reason[:REASON_MAX_CHARS]}, ensure_ascii=False)


def build_messages(task: Task, labels: Sequence[str], event: Event, cases: Sequence[Case] = (),
                   evidence: dict[str, Any] | None = None) -> list[dict[str, str]]:
    options = ", ".join(f'"{label}"' for label in labels)
    parts = [f"{task.instruction}\nPossible labels: {options}."]
    if cases:
        parts.append("Similar past cases, with their correct answers:")
        for case in cases:
            parts.append(f"Log: {case.log[:CASE_CHARS]}\nAnswer: {_answer(case.label, case.reason)}")
    parts.append("Now this log:")
    body = describe_event(event)
    if evidence:
        body += "\nDetector evidence: " + json.dumps(evidence, ensure_ascii=False, default=str)[:400]
    parts.append(body + '\nAnswer with {"label": ..., "reason": ...}.')
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


_LABEL = re.compile(r'"label"\s*:\s*"((?:[^"\\]|\\.)*)"')
_REASON = re.compile(r'"reason"\s*:\s*"((?:[^"\\]|\\.)*)')


def parse_answer(text: str, labels: Sequence[str]) -> tuple[str, str]:
    """(label, reason) from the LLM's output; a truncated JSON still yields its label. Raises ValueError
    when no allowed label can be read (a server that ignored the constraint)."""
    try:
        data = json.loads(text)
        label, reason = str(data.get("label", "")), str(data.get("reason", ""))
    except (json.JSONDecodeError, AttributeError):
        found, why = _LABEL.search(text), _REASON.search(text)
        label, reason = (found.group(1) if found else ""), (why.group(1) if why else "")
    if label not in labels:
        raise ValueError(f"the LLM answered {label!r}, not one of {list(labels)}")
    return label, reason
