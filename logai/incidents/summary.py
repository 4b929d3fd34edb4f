"""An incident's summary for the person on call: written by the LLM under a JSON-schema constraint, or, when
the LLM is off, down, over budget or off-contract, from the incident's templates and marked as such.

The LLM reads the incident's templates with their counts, sample events and parameters, what the detectors
said, and the most similar past cases (the router's error-prone cases, operators' corrections included).
The summary mostly copies names and templates from that prompt, which is where speculative decoding pays.
Evidence ids are constrained to the incident's own template ids, and what it affects to the incident's own
source, labels and parameters. The free-text fields must pass `summary_checks`; one that fails is replaced by
the template summary's, and `fields_by` says who wrote each field.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, deque
from typing import Any

from logai import metrics
from logai.incidents.summary_checks import FIELDS, check, entities, is_entity, sample_values
from logai.incidents.traces import SharedTrace, shared_trace
from logai.llm.backend import Backend
from logai.llm.types import Constraint, GenerationRequest, SamplingParams
from logai.route.budget import LlmBudget
from logai.route.cases import Case, CaseLibrary
from logai.route.tasks import NORMAL_LABELS

log = logging.getLogger(__name__)

SYSTEM = ("You are an expert site reliability engineer on call. Summarise incidents from their logs for a "
          "colleague: a short title, the most likely cause in one sentence, what is affected (services, hosts, "
          "users), the ids of the templates that show it, and what to check first. Answer with JSON only.")
TEMPLATE_CHARS = 300
MAX_TEMPLATES = 8


def summary_schema(template_ids: list[str], affected: list[str] | None = None) -> dict[str, Any]:
    ids: dict[str, Any] = {"enum": template_ids} if template_ids else {"type": "string", "maxLength": 32}
    names: dict[str, Any] = {"enum": affected} if affected else {"type": "string", "maxLength": 60}
    # the title comes last: asked first, SmolLM2 wrote the next key's name as the title; a one-shot example in
    # the prompt was worse (copied into 20 of 20 summaries in reports/alerts)
    return {
        "type": "object",
        "properties": {
            "suspected_cause": {"type": "string", "maxLength": 240},
            "affected": {"type": "array", "items": names, "maxItems": 4},
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
    trace = trace_line(shared_trace(incident["samples"]))
    if trace:
        parts.append(f"Stack traces in the sample events: {trace}.")
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



def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters at a space, with an ellipsis, so a title never ends mid-word."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    return (cut[: cut.rfind(" ")] if " " in cut[limit // 2:] else cut).rstrip(" :,;") + "…"


# what a person is told the signals are, by detector (singular, plural); several kinds: "abnormal signals"
_SIGNAL_WORDS = {"verdict": ("abnormal event", "abnormal events"),
                 "template_rate": ("template-rate change", "template-rate changes"),
                 "error_rate": ("error-rate burst", "error-rate bursts")}


def signal_words(signals: dict[str, int], count: int) -> str:
    kinds = [kind for kind, n in signals.items() if n]
    one, many = _SIGNAL_WORDS.get(kinds[0], ("anomalous session", "anomalous sessions")) if len(kinds) == 1 \
        else ("abnormal signal", "abnormal signals")
    return f"{count} {one if count == 1 else many}"


def _rates(incident: dict[str, Any]) -> str:
    """What the rate detectors saw at the worst: `up to 23 per 60 s, against 0.42 usually`."""
    seen = [s["evidence"] for s in incident["samples"]
            if isinstance(s.get("evidence"), dict) and "baseline_mean" in s["evidence"]]
    if not seen:
        return ""
    worst = max(seen, key=lambda e: abs(float(e.get("count", 0)) - float(e["baseline_mean"])))
    return (f"; up to {worst.get('count')} per {worst.get('bucket_seconds', 60):g} s, against "
            f"{worst['baseline_mean']} usually")


def trace_line(shared: SharedTrace | None) -> str:
    """What the samples' stack traces share (`shared_trace`), in a sentence part:
    `X: msg (10 of 10 sample traces), caused by Y (5 of them), at Z (6 of them)`."""
    if shared is None:
        return ""
    facts, traces = shared
    thrown = facts.get("exception", ("a stack trace", traces))
    said = [f"{thrown[0]} ({thrown[1]} of {traces} sample traces)"]
    for name, words in (("cause", "caused by"), ("frame", "at")):
        if name in facts:
            value, count = facts[name]
            said.append(f"{words} {value}" + ("" if count == thrown[1] else f" ({count} of them)"))
    return ", ".join(said)


def template_summary(incident: dict[str, Any], why: str) -> dict[str, Any]:
    """The summary without an LLM: the most frequent template and the values its samples repeat, said plainly.
    `why` says why no LLM wrote it."""
    top = _top_templates(incident)
    first = (top[0][1].get("template") or "").strip() if top else ""
    count = incident["count"]
    kinds = ", ".join(sorted(incident["signals"]))
    repeated = [(name, value, n) for (name, value), n in sample_values(incident).most_common(3) if n > 1]
    cause = f"Most frequent pattern ({top[0][1]['count']} of {count} signals): {clip(first, 200)}" if first else \
        f"Detectors: {kinds}"
    cause += _rates(incident)
    shared = shared_trace(incident["samples"])
    trace = trace_line(shared)
    if trace:
        cause += f"; the stack traces: {trace}"
    if repeated:
        cause += "; in the samples, " + ", ".join(f"{name}={value} (x{n})" for name, value, n in repeated)
    return {
        "title": f"{signal_words(incident['signals'], count)} in {incident['source']}"
                 + (f": {clip(first, 80)}" if first else ""),
        "suspected_cause": cause,
        "affected": entities(incident)[:4],
        "evidence_template_ids": [tid for tid, _ in top[:3]],
        "next_steps": [*_trace_steps(shared),
                       *[f"Check {name} {value}: {n} of the {len(incident['samples'])} sample events name it"
                         for name, value, n in repeated if is_entity(value) and 2 * n >= len(incident["samples"])][:1],
                       *(f"Read the sample events of template {tid}" for tid, _ in top[:2])][:3]
                      or ["Read the incident's sample events"],
        "generated_by": "template",
        "note": why,
    }


def _trace_steps(shared: SharedTrace | None) -> list[str]:
    if shared is None or "frame" not in shared[0]:
        return []
    (frame, count), traces = shared[0]["frame"], shared[1]
    return [f"Read the code at {frame}: {count} of {traces} sample stack traces go through it"]


FIELD_NAMES = {"title": "title", "suspected_cause": "suspected cause", "next_steps": "next steps"}


def set_aside_note(problems: dict[str, str]) -> str:
    """Why the LLM's fields were replaced, for a person: `LLM answer set aside: title: ...; ...`."""
    return ("LLM answer set aside, field by field: " + "; ".join(
        f"{FIELD_NAMES.get(name, name)}: {why}" for name, why in problems.items())
        + ". Shown instead: the template summary's.")


class Summarizer:
    """`summarize(incident)` -> (summary, "llm" | "template"); never raises.

    The LLM is asked only while it pays: once its last `judge_after` answers all failed the checks (or came
    back off-contract), it is asked for one incident in `probe_every` only, until an answer passes again: a
    model that never helps stops costing seconds of CPU per incident. The packaged SmolLM2 keeps a field now
    and then (4 of 22 incidents in reports/summaries), so it is still asked; a useful model is never held back."""

    def __init__(self, backend: Backend | None, budget: LlmBudget | None = None, cases: CaseLibrary | None = None,
                 k: int = 3, max_tokens: int = 512, judge_after: int = 10, probe_every: int = 10):
        self.backend = backend
        self.budget = budget
        self.cases = cases
        self.k = k
        self.max_tokens = max_tokens
        self.judge_after = judge_after
        self.probe_every = probe_every
        self._recent: deque[bool] = deque(maxlen=judge_after)  # did the answer keep a title, cause or step
        self._held = 0  # incidents not asked since the last probe

    def _pays(self) -> bool:
        if len(self._recent) < self.judge_after or any(self._recent):
            return True
        self._held += 1
        if self._held >= self.probe_every:
            self._held = 0
            return True
        return False

    def summarize(self, incident: dict[str, Any]) -> tuple[dict[str, Any], str]:
        if self.backend is None:
            return template_summary(incident, "no LLM configured (alerts.llm_summary or route.llm off)"), "template"
        if not self._pays():
            return template_summary(incident, f"the LLM's last {self.judge_after} summaries all failed the checks: "
                                              f"asked again for one incident in {self.probe_every}"), "template"
        if self.budget is not None and not self.budget.try_acquire():
            return template_summary(incident, "over the summary budget (alerts.max_summaries_per_day)"), "template"
        try:
            summary, by = self._ask(incident)
        except ValueError as exc:  # off-contract (bad JSON is a ValueError too): the model's fault, counted against it
            self._recent.append(False)
            log.warning("LLM summary of incident %s off-contract, a template summary stands: %s", incident.get("id"),
                        exc)
            return template_summary(incident, f"LLM answer off-contract: {str(exc)[:200]}"), "template"
        except Exception as exc:  # the LLM down, slow or cancelled: the person still gets a summary
            log.warning("LLM summary of incident %s failed, a template summary stands: %s", incident.get("id"), exc)
            return template_summary(incident, f"LLM unavailable: {str(exc)[:200]}"), "template"
        self._recent.append(by == "llm")
        return summary, by

    def _ask(self, incident: dict[str, Any]) -> tuple[dict[str, Any], str]:
        assert self.backend is not None
        top = _top_templates(incident)
        found: list[tuple[Case, float]] = []
        if self.cases is not None and len(self.cases) and top:
            found = self.cases.search(top[0][1].get("template") or "", self.k)
        named = entities(incident)
        schema = summary_schema([tid for tid, _ in top], named)
        request = GenerationRequest(messages=build_messages(incident, found), constraint=Constraint.json_schema(schema),
                                    sampling=SamplingParams(max_tokens=self.max_tokens, temperature=0.0))
        result = self.backend.generate([request])[0]
        data = json.loads(result.text)  # an off-contract answer (truncated, not JSON) raises: template summary
        missing = [name for name in FIELDS if name not in data]
        if missing:
            raise ValueError(f"the LLM's summary lacks {missing}")
        known = {tid for tid, _ in top}
        data["evidence_template_ids"] = [t for t in data["evidence_template_ids"] if t in known]
        data["affected"] = [a for a in data["affected"] if a in named]  # a server that ignored the schema
        for name in ("affected", "evidence_template_ids", "next_steps"):  # a small model repeats itself
            data[name] = list(dict.fromkeys(data[name]))
        problems = check(data, incident)
        fallback = template_summary(incident, "")
        fields_by = {}
        for name in FIELDS:
            if name in problems or not data[name]:
                data[name], fields_by[name] = fallback[name], "template"
            else:
                fields_by[name] = "llm"
            metrics.INCIDENT_SUMMARY_FIELDS.labels(field=name, by=fields_by[name]).inc()
        by = "llm" if any(fields_by[name] == "llm" for name in ("title", "suspected_cause", "next_steps")) \
            else "template"
        data["generated_by"], data["fields_by"] = by, fields_by
        if problems:
            data["note"] = set_aside_note(problems)
        data["tokens"] = {"prompt": result.prompt_tokens, "completion": result.completion_tokens,
                          "accepted_draft": result.accepted_tokens, "forward_passes": result.forward_passes}
        return data, by
