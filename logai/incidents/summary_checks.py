"""What an LLM-written incident summary must pass before a person reads it, field by field.

A small local model (the packaged SmolLM2-135M) follows the JSON schema but often fills it with a template id,
a field's own name, a path it made up, one sample line with its one order number as the title, or a log
line copied as a "next step" (reports/summaries). A field that fails its check is replaced by the template
summary's field, and the summary says which fields the LLM wrote. The checks are about form and grounding,
not about any one system: a title or cause must be words, share a word with the incident's own templates
and samples, and name no value of a single event; a step must not be a copied log line.

`affected` needs no check when the schema offers it only the incident's own entities (`entities`).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

FIELDS = ("title", "suspected_cause", "affected", "evidence_template_ids", "next_steps")
_SCHEMA_WORDS = frozenset({*FIELDS, "sample_events", "samples", "severity", "signals", "template", "templates",
                           "source", "detectors", "incident", "summary"})
_TEMPLATE_ID = re.compile(r"\bT[0-9a-f]{16}\b")
_MARKUP = re.compile(r"<\*|\*>|\.\*|\{\{|\}\}")
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]{2,}")
_TOKEN = re.compile(r"[^\s,;:=()\[\]\"']+")
_HAS_DIGIT = re.compile(r"\d")
_IDENTIFIER = re.compile(r"[._/@\\]|[a-z][A-Z]")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")
_MIN_WORDS = {"title": 2, "suspected_cause": 3, "next_steps": 3}
MAX_ENTITIES = 8


def sample_values(incident: dict[str, Any]) -> Counter[tuple[str, str]]:
    """How many of the incident's sample events name each (concept, value)."""
    return Counter((name, value) for s in incident.get("samples") or [] for name, value in s.get("params") or [])


def is_entity(value: str) -> bool:
    """Whether a parameter value can be something affected: `user=chen.wei` can, `state=6` is no one to call."""
    return bool(value) and len(value) <= 48 and not _NUMBER.fullmatch(value)


def entities(incident: dict[str, Any]) -> list[str]:
    """What the incident can be said to affect: its source, its group labels and the parameters its samples
    name, most frequent first (`user=chen.wei`). The schema offers `affected` only these."""
    named = [f"{name}={value}" for (name, value), _ in sample_values(incident).most_common() if is_entity(value)]
    labels = [f"{k}={v}" for k, v in (incident.get("group_labels") or {}).items()]
    return list(dict.fromkeys([incident["source"], *labels, *named]))[:MAX_ENTITIES]


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)}


class Grounding:
    """The words and literal tokens of an incident's templates and samples, against which fields are checked."""

    def __init__(self, incident: dict[str, Any]):
        templates = [entry.get("template") or "" for key, entry in (incident.get("templates") or {}).items()
                     if key != "other"]
        samples = [s.get("content") or "" for s in incident.get("samples") or []]
        # what the samples' stack traces say (exception, cause, frame) is the incident's, not one event's
        traces = [value for s in incident.get("samples") or [] if isinstance(s.get("trace"), dict)
                  for value in s["trace"].values()]
        templates += traces
        self.lines = [_words(text) for text in templates + samples if text]
        self.words = set().union(*self.lines) - _SCHEMA_WORDS
        # tokens with a digit that the templates state literally (`HTTP 503`): a title may name them; any other
        # number belongs to one event (an order, a pid) and does not describe the incident
        self.literal_tokens = {t for text in templates for t in _TOKEN.findall(text) if _HAS_DIGIT.search(t)}
        self.tokens = {t.rstrip(".") for text in templates + samples for t in _TOKEN.findall(text)}


def field_problem(name: str, value: Any, grounding: Grounding) -> str | None:
    """Why `value` cannot stand as the LLM's `name` field, or None if it can."""
    texts = [value] if isinstance(value, str) else list(value) if isinstance(value, list) else []
    if name == "next_steps" and not texts:
        return "no step"
    for text in texts:
        problem = _text_problem(name, str(text), grounding)
        if problem is not None:
            return problem
    return None


def _text_problem(name: str, text: str, grounding: Grounding) -> str | None:
    text = text.strip()
    words = _words(text)
    if _TEMPLATE_ID.search(text):
        return "a template id"
    if _MARKUP.search(text):
        return "template markup"
    if sum(1 for token in text.split() if _WORD.search(token)) < _MIN_WORDS.get(name, 1):
        return "too few words"  # `insufficient_funds` names a value; it is not a cause
    if words <= _SCHEMA_WORDS | {"suspected", "cause", "affected", "steps", "next", "evidence"}:
        return "a field name"
    letters = sum(c.isalpha() for c in text)
    if letters < 0.5 * len(text.replace(" ", "")):
        return "mostly not words"
    if name in ("title", "suspected_cause") and not words & grounding.words:
        return "no word of the incident's logs"
    tokens = _TOKEN.findall(text)
    headline = name != "next_steps"  # a title or cause describes the incident; a step may bring its own names
    # a number the templates do not state belongs to one event (an order, a pid); a step may still name a number
    # of its own (`raise the pool above 20`), just not one of the samples' values
    stray = [t for t in tokens if _HAS_DIGIT.search(t) and t not in grounding.literal_tokens
             and (headline or t.rstrip(".") in grounding.tokens)]
    if stray:
        return f"names one event's value ({stray[0][:20]})"
    # a dotted, slashed or camelCase name in a title or cause must be one the logs state: a small model garbles
    # class names and invents paths (`./source_zookeeper/1`, `...TaskAttemptUnsuccessfulComitione`)
    made_up = [t for t in tokens if headline and _IDENTIFIER.search(t.rstrip("."))
               and t.rstrip(".") not in grounding.tokens]
    if made_up:
        return f"a name not in the incident's logs ({made_up[0][:20]})"
    if name == "next_steps":
        for line in grounding.lines:  # a log line (or its template) copied is not a step
            if words and len(words & line) >= 0.8 * len(words):
                return "a copied log line"
    return None


def check(data: dict[str, Any], incident: dict[str, Any]) -> dict[str, str]:
    """The LLM's free-text fields in `data` that fail their check, with why ({} when all pass)."""
    grounding = Grounding(incident)
    found = {name: field_problem(name, data[name], grounding) for name in ("title", "suspected_cause", "next_steps")
             if name in data}
    return {name: problem for name, problem in found.items() if problem is not None}
