"""Short reasons attached to error-prone cases: written by the LLM given the gold label, or a template-based
explanation when no LLM is configured (or it fails)."""

from __future__ import annotations

import logging

from logai.llm.backend import Backend
from logai.llm.types import LLMError
from logai.route.cases import Case

log = logging.getLogger(__name__)


def template_reason(case: Case) -> str:
    if case.small_model_label and case.small_model_label != case.label:
        return f"Not '{case.small_model_label}': this message is a known '{case.label}' case."[:200]
    return f"This message is a known '{case.label}' case."[:200]


def llm_reason(case: Case, backend: Backend, max_tokens: int = 40) -> str:
    messages = [{"role": "user", "content": (
        f"Log: {case.log}\nThe correct label of this log is '{case.label}'. In one short sentence, say what in "
        "the log shows this.")}]
    result = backend.chat(messages, max_tokens=max_tokens)
    return " ".join(result.text.split())[:200]


def write_reasons(cases: list[Case], backend: Backend | None = None) -> list[Case]:
    """Fill each case's empty reason; the LLM when there is one, the template explanation otherwise."""
    for case in cases:
        if case.reason:
            continue
        if backend is not None:
            try:
                case.reason = llm_reason(case, backend) or template_reason(case)
                continue
            except LLMError as exc:
                log.warning("LLM could not write a case reason (%s); using the template explanation", exc)
                backend = None
        case.reason = template_reason(case)
    return cases
