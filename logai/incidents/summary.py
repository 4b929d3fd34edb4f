"""An incident's summary for the person on call: written by the LLM under a JSON-schema constraint, or, when
the LLM is off, down, over budget or off-contract, from the incident's templates and marked as such.

The LLM reads the incident's templates with their counts, sample events and parameters, what the detectors
said, and the most similar past cases (the router's error-prone cases, operators' corrections included).
The summary mostly copies names and templates from that prompt, which is where speculative decoding pays.
Evidence ids are constrained to the incident's own template ids.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import Any

from logai.llm.backend import Backend
from logai.llm.types import Constraint, GenerationRequest, SamplingParams
from logai.route.budget import LlmBudget
from logai.route.cases import Case, CaseLibrary

log = logging.getLogger(__name__)

FIELDS = ("title", "suspected_cause", "affected", "evidence_template_ids", "next_steps")
SYSTEM = ("You are an expert site reliability engineer on call. Summarise incidents from their logs for a "
          "colleague: a short title, the most likely cause in one sentence, what is affected (services, hosts, "
          "users), the ids of the templates that show it, and what to check first. Answer with JSON only.")
TEMPLATE_CHARS = 300
NORMAL_LABELS = frozenset({"normal", "benign", "ok"})
MAX_TEMPLATES = 8


def summary_schema(template_ids: list[str]) -> dict[str, Any]:
    ids: dict[str, Any] = {"enum": template_ids} if template_ids else {"type": "string", "maxLength": 32}
    # the title comes last: asked first, SmolLM2 wrote the next key's name as the title; a one-shot example in
    # the prompt was worse (copied into 20 of 20 summaries in reports/alerts)
    return {
        "type": "object",
        "properties": {
            "suspected_cause": {"type": "string", "maxLength": 240},
            "affected": {"type": "array", "items": {"type": "string", "maxLength": 60}, "maxItems": 4},
            "evidence_template_ids": {"type": "array", "items": ids, "maxItems": 3},
            "next_steps": {"type": "array", "items": {"type": "string", "maxLength": 120}, "maxItems": 3},
            "title": {"type": "string", "maxLength": 100},
        },
        "required": list(FIELDS),
    }


def _top_templates(incident: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    templates = [(tid, entry) for tid, entry in incident["templates"].items() if tid != "other"]
    return sorted(templates, key=lambda pair: -pair[1]["count"])[:MAX_TEMPLATES]


def build_messages(incident: dict[str, Any], cases: list[tuple[Case, float]]) -> list[dict[str, str]]:
    labels = ", ".join(f"{k}={v}" for k, v in (incident.get("group_labels") or {}).items())
    parts = [f"Incident in source {incident['source']}{f' ({labels})' if labels else ''}: {incident['count']} "
             f"signals, severity {incident['severity']}. Detectors: "
             + ", ".join(f"{kind} x{count}" for kind, count in incident["signals"].items()) + "."]
    parts.append("Log templates involved (id, count, template):")
    parts += [f"- {tid} x{entry['count']}: {(entry.get('template') or '')[:TEMPLATE_CHARS]}"
              for tid, entry in _top_templates(incident)]
    seen = Counter((name, value) for s in incident["samples"] for name, value in s.get("params") or [])
    if seen:
        parts.append("Parameters in the sample events: " + ", ".join(
            f"{name}={value}" + (f" (x{n})" if n > 1 else "") for (name, value), n in seen.most_common(12)))
    samples = [s for s in incident["samples"] if s.get("content")][:3]
    if samples:
        parts.append("Sample events:")
        parts += [f"- [{s.get('level') or '-'}] {s['content'][:TEMPLATE_CHARS]}" for s in samples]
    cases = [(case, score) for case, score in cases if case.label not in NORMAL_LABELS]
    if cases:  # past problems like this one; normal ones only lead a small model to call the incident normal
        parts.append("Similar past problems:")
        parts += [f"- {case.log[:200]}" + (f" ({case.reason[:100]})" if case.reason else "") for case, _ in cases]
    parts.append('Answer with {"title", "suspected_cause", "affected", "evidence_template_ids", "next_steps"}.')
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n".join(parts)}]



def template_summary(incident: dict[str, Any], why: str) -> dict[str, Any]:
    """The summary without an LLM: the most frequent templates, said plainly. `why` says why no LLM wrote it."""
    top = _top_templates(incident)
    first = (top[0][1].get("template") or "").strip() if top else ""
    kinds = ", ".join(sorted(incident["signals"]))
    return {
        "title": f"{incident['count']} abnormal signals in {incident['source']}"
                 + (f": {first[:80]}" if first else ""),
        "suspected_cause": f"Most frequent pattern: {first[:200]}" if first else f"Detectors: {kinds}",
        "affected": [incident["source"], *[f"{k}={v}" for k, v in (incident.get("group_labels") or {}).items()]][:4],
        "evidence_template_ids": [tid for tid, _ in top[:3]],
        "next_steps": [f"Read the sample events of template {tid}" for tid, _ in top[:2]]
                      or ["Read the incident's sample events"],
        "generated_by": "template",
        "note": why,
    }


class Summarizer:
    """`summarize(incident)` -> (summary, "llm" | "template"); never raises."""

    def __init__(self, backend: Backend | None, budget: LlmBudget | None = None, cases: CaseLibrary | None = None,
                 k: int = 3, max_tokens: int = 512):
        self.backend = backend
        self.budget = budget
        self.cases = cases
        self.k = k
        self.max_tokens = max_tokens

    def summarize(self, incident: dict[str, Any]) -> tuple[dict[str, Any], str]:
        if self.backend is None:
            return template_summary(incident, "no LLM configured (alerts.llm_summary or route.llm off)"), "template"
        if self.budget is not None and not self.budget.try_acquire():
            return template_summary(incident, "over the summary budget (alerts.max_summaries_per_day)"), "template"
        try:
            return self._ask(incident), "llm"
        except Exception as exc:  # the LLM down, slow or off-contract: the person still gets a summary
            log.warning("LLM summary of incident %s failed, a template summary stands: %s", incident.get("id"), exc)
            return template_summary(incident, f"LLM unavailable: {str(exc)[:200]}"), "template"

    def _ask(self, incident: dict[str, Any]) -> dict[str, Any]:
        assert self.backend is not None
        top = _top_templates(incident)
        found: list[tuple[Case, float]] = []
        if self.cases is not None and len(self.cases) and top:
            found = self.cases.search(top[0][1].get("template") or "", self.k)
        request = GenerationRequest(messages=build_messages(incident, found),
                                    constraint=Constraint.json_schema(summary_schema([tid for tid, _ in top])),
                                    sampling=SamplingParams(max_tokens=self.max_tokens, temperature=0.0))
        result = self.backend.generate([request])[0]
        data = json.loads(result.text)  # an off-contract answer (truncated, not JSON) raises: template summary
        missing = [name for name in FIELDS if name not in data]
        if missing:
            raise ValueError(f"the LLM's summary lacks {missing}")
        known = {tid for tid, _ in top}
        data["evidence_template_ids"] = [t for t in data["evidence_template_ids"] if t in known]
        for name in ("affected", "evidence_template_ids", "next_steps"):  # a small model repeats itself
            data[name] = list(dict.fromkeys(data[name]))
        title = str(data["title"]).strip()
        if len(title) < 8 or title in FIELDS:  # a small model may echo a field name instead of a title
            data["title"] = template_summary(incident, "")["title"]
        data["generated_by"] = "llm"
        data["tokens"] = {"prompt": result.prompt_tokens, "completion": result.completion_tokens,
                          "accepted_draft": result.accepted_tokens, "forward_passes": result.forward_passes}
        return data
