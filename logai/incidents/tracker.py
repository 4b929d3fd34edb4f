"""`IncidentTracker`: groups signals (abnormal verdicts, detector anomalies) into incidents, in memory.

A signal joins an open incident of the same source and group labels that already holds its template, whenever
it falls; or one within `gap_s` of event time whose templates are related to its own (word overlap) or whose
stack traces failed where its own did (exception and frame), or any one within `gap_s` when it names no
template (an error-rate burst). Otherwise it opens an incident. An
incident with no new signal for `quiet_s` of wall clock resolves. The tracker only decides;
`IncidentService` stores, summarises and alerts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from typing import Any

from logai.incidents.traces import fingerprint

SEVERITIES = ("info", "warning", "critical")
MAX_TEMPLATES = 50  # per incident; later templates are counted under "other"
MAX_SAMPLES = 10
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.-]+")


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity) if severity in SEVERITIES else 0


@dataclass
class Signal:
    """One reason to page: an abnormal verdict on an event, or an anomaly a detector found."""

    ts: float  # event time
    source: str
    kind: str  # "verdict" or the detector's name
    severity: str
    template_id: str | None = None
    template: str | None = None
    group: tuple[tuple[str, str], ...] = ()
    sample: dict[str, Any] = field(default_factory=dict)
    input: tuple[str, str] | None = None  # a verdict's (task, what the small model read): what a correction names


@dataclass
class Incident:
    source: str
    group: tuple[tuple[str, str], ...]
    severity: str
    start_ts: float
    end_ts: float
    opened_at: float
    updated_at: float
    id: int | None = None
    state: str = "open"
    count: int = 0
    first_template_id: str | None = None
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    signals: dict[str, int] = field(default_factory=dict)
    samples: list[dict[str, Any]] = field(default_factory=list)
    resolved_at: float | None = None
    resolution: str | None = None  # why it resolved
    acked_at: float | None = None
    acked_by: str | None = None
    summary: dict[str, Any] | None = None
    summary_by: str | None = None
    words: set[str] = field(default_factory=set)  # of its templates, for relatedness
    fingerprints: set[str] = field(default_factory=set)  # where its stack traces failed, for relatedness too

    def add(self, signal: Signal, now: float) -> None:
        self.count += 1
        self.start_ts, self.end_ts = min(self.start_ts, signal.ts), max(self.end_ts, signal.ts)
        self.updated_at = now
        self.signals[signal.kind] = self.signals.get(signal.kind, 0) + 1
        if severity_rank(signal.severity) > severity_rank(self.severity):
            self.severity = signal.severity
        if signal.template_id:
            self.first_template_id = self.first_template_id or signal.template_id
            key = signal.template_id if (signal.template_id in self.templates
                                         or len(self.templates) < MAX_TEMPLATES) else "other"
            entry = self.templates.setdefault(key, {"template": signal.template if key != "other" else "(more)",
                                                    "count": 0})
            entry["count"] += 1
            if key != "other":  # what relates later signals to it, and what a correction names
                if signal.input:
                    entry.setdefault("input", list(signal.input))
                if where := fingerprint(signal.sample.get("trace")):
                    entry.setdefault("fingerprint", where)
                    self.fingerprints.add(where)
                if signal.template:
                    self.words |= template_words(signal.template)
        if signal.sample and len(self.samples) < MAX_SAMPLES:
            self.samples.append({"ts": signal.ts, "kind": signal.kind, **signal.sample})

    def row(self) -> dict[str, Any]:
        """What the store keeps (`IncidentStore.save`)."""
        return {"id": self.id, "source": self.source, "group_labels": dict(self.group), "state": self.state,
                "severity": self.severity, "start_ts": self.start_ts, "end_ts": self.end_ts,
                "opened_at": self.opened_at, "updated_at": self.updated_at, "resolved_at": self.resolved_at,
                "resolution": self.resolution, "acked_at": self.acked_at, "acked_by": self.acked_by,
                "count": self.count, "first_template_id": self.first_template_id, "templates": self.templates,
                "signals": self.signals, "samples": self.samples, "summary": self.summary,
                "summary_by": self.summary_by}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Incident:
        stored = {f.name for f in fields(cls)} - {"group", "words", "fingerprints"}  # the columns kept as they are
        incident = cls(**{key: row[key] for key in stored},
                       group=tuple(sorted((row.get("group_labels") or {}).items())))
        for entry in incident.templates.values():
            incident.words |= template_words(entry.get("template") or "")
            if entry.get("fingerprint"):
                incident.fingerprints.add(entry["fingerprint"])
        return incident


def template_words(template: str) -> set[str]:
    return set(_WORD.findall(template.lower()))


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


@dataclass
class Changes:
    """What one call changed: incidents opened, grown (and which crossed a severity), resolved."""

    opened: list[Incident] = field(default_factory=list)
    grown: list[Incident] = field(default_factory=list)
    escalated: list[Incident] = field(default_factory=list)
    resolved: list[Incident] = field(default_factory=list)

    def touched(self) -> list[Incident]:
        seen: dict[int, Incident] = {}
        for incident in (*self.opened, *self.grown, *self.resolved):
            seen[id(incident)] = incident
        return list(seen.values())


class IncidentTracker:
    def __init__(self, gap_s: float = 300.0, quiet_s: float = 600.0, related_similarity: float = 0.5,
                 max_open_per_source: int = 20, critical_count: int = 1000):
        self.gap_s = gap_s
        self.quiet_s = quiet_s
        self.related_similarity = related_similarity
        self.max_open_per_source = max_open_per_source
        self.critical_count = critical_count
        self.active: dict[tuple[str, tuple[tuple[str, str], ...]], list[Incident]] = {}

    def restore(self, incidents: Iterable[Incident]) -> None:
        """Take back the incidents still open when the process last stopped."""
        for incident in incidents:
            self.active.setdefault((incident.source, incident.group), []).append(incident)

    def observe(self, signals: Iterable[Signal], now: float) -> Changes:
        changes = Changes()
        opened, grown, escalated = set(), set(), set()
        for signal in signals:
            incidents = self.active.setdefault((signal.source, signal.group), [])
            incident = self._match(incidents, signal)
            if incident is None:
                incident = Incident(signal.source, signal.group, signal.severity, signal.ts, signal.ts, now, now)
                incidents.append(incident)
                opened.add(id(incident))
                changes.opened.append(incident)
            before = incident.severity
            incident.add(signal, now)
            if incident.count >= self.critical_count:
                incident.severity = "critical"
            if id(incident) not in opened and id(incident) not in grown:
                grown.add(id(incident))
                changes.grown.append(incident)
            if incident.severity != before and id(incident) not in opened and id(incident) not in escalated:
                escalated.add(id(incident))
                changes.escalated.append(incident)
        return changes

    def _match(self, incidents: list[Incident], signal: Signal) -> Incident | None:
        if signal.template_id is not None:
            # an open incident that holds the template takes it back whenever it recurs, as Alertmanager keeps
            # one alert per fingerprint while it fires: a burst after a lull is not a second page
            for incident in incidents:
                if signal.template_id in incident.templates:
                    return incident
        near = [i for i in incidents if i.start_ts - self.gap_s <= signal.ts <= i.end_ts + self.gap_s]
        if not near:
            return None
        if signal.template_id is None:
            return max(near, key=lambda i: i.updated_at)
        words = template_words(signal.template or "")
        best = max(near, key=lambda i: jaccard(words, i.words))
        if jaccard(words, best.words) >= self.related_similarity:
            return best
        where = fingerprint(signal.sample.get("trace"))
        same_failure = [i for i in near if where is not None and where in i.fingerprints]
        if same_failure:  # another message for a failure at the same place: the same page
            return max(same_failure, key=lambda i: i.updated_at)
        if len(incidents) >= self.max_open_per_source:  # a flood of distinct templates: one incident, not many
            return max(near, key=lambda i: i.updated_at)
        return None

    def expire(self, now: float) -> Changes:
        """Resolve the incidents quiet for `quiet_s`."""
        changes = Changes()
        for incident in [i for i in self.active_incidents() if now - i.updated_at >= self.quiet_s]:
            changes.resolved += self.resolve(incident, now, f"no new signal for {self.quiet_s:g} s").resolved
        return changes

    def resolve(self, incident: Incident, now: float, resolution: str) -> Changes:
        """Resolve an active incident, saying why (quiet, or its verdicts corrected); the next signal of its
        templates opens a new one."""
        changes = Changes()
        key = (incident.source, incident.group)
        incidents = self.active.get(key, [])
        if incident in incidents:
            incident.state, incident.resolved_at, incident.resolution = "resolved", now, resolution
            incidents.remove(incident)
            changes.resolved.append(incident)
            if not incidents:
                del self.active[key]
        return changes

    def find(self, incident_id: int) -> Incident | None:
        for incidents in self.active.values():
            for incident in incidents:
                if incident.id == incident_id:
                    return incident
        return None

    def active_incidents(self) -> list[Incident]:
        return [incident for incidents in self.active.values() for incident in incidents]

    @property
    def open_count(self) -> int:
        return sum(len(incidents) for incidents in self.active.values())
