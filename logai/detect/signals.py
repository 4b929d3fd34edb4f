"""Stream-native signals: cheap per-event checks that need no training run.

- `NewTemplateSignal`: a template never seen before in a source (after a warm-up, when everything is new).
- `RateSignal`: per template and time bucket, the count against an exponentially weighted baseline of that
  template's earlier buckets; a z-score beyond `z` is a spike (or, for a template that was steady, a drop).
- `ErrorRateSignal`: the share of ERROR/FATAL/CRITICAL events per bucket against its own baseline.
Each takes (event, event time) pairs and returns `Anomaly` records with their evidence.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from logai.events import Event

ERROR_LEVELS = {"ERROR", "FATAL", "CRITICAL", "SEVERE", "EMERG", "ALERT", "CRIT", "ERR", "E", "F"}


@dataclass
class Anomaly:
    ts: float
    source: str
    detector: str
    score: float
    threshold: float | None
    evidence: dict[str, Any] = field(default_factory=dict)


class _Baseline:
    """EWMA mean and variance of a count series."""

    __slots__ = ("mean", "seen", "var")

    def __init__(self) -> None:
        self.mean, self.var, self.seen = 0.0, 0.0, 0

    def z(self, value: float) -> float:
        return (value - self.mean) / math.sqrt(self.var + 1.0)

    def update(self, value: float, alpha: float) -> None:
        if not self.seen:
            self.mean = value
        else:
            delta = value - self.mean
            self.mean += alpha * delta
            self.var = (1 - alpha) * (self.var + alpha * delta * delta)
        self.seen += 1


class NewTemplateSignal:
    name = "new_template"

    def __init__(self, warmup_events: int = 10_000):
        self.warmup_events = warmup_events
        self.seen: dict[str, set[str]] = defaultdict(set)
        self.events: dict[str, int] = defaultdict(int)

    def observe(self, timed: Iterable[tuple[Event, float]]) -> list[Anomaly]:
        found = []
        for event, when in timed:
            self.events[event.source] += 1
            if event.template_id is None or event.template_id in self.seen[event.source]:
                continue
            self.seen[event.source].add(event.template_id)
            if self.events[event.source] > self.warmup_events:
                found.append(Anomaly(when, event.source, self.name, 1.0, None,
                                     {"template_id": event.template_id, "template": event.template,
                                      "line": event.line, "content": event.content[:500]}))
        return found


class RateSignal:
    """Counts per (source, template) per bucket; a closed bucket is compared with the template's baseline."""

    name = "template_rate"

    def __init__(self, bucket_s: float = 60.0, z: float = 6.0, min_count: int = 20, alpha: float = 0.1,
                 min_buckets: int = 5):
        self.bucket_s, self.z, self.min_count, self.alpha, self.min_buckets = bucket_s, z, min_count, alpha, min_buckets
        self.current: dict[str, float] = {}  # source -> start of the open bucket
        self.ends: dict[str, float] = {}  # source -> end of the open bucket
        self.counts: dict[str, dict[str, int]] = defaultdict(dict)
        self.baselines: dict[tuple[str, str], _Baseline] = {}
        self.templates: dict[tuple[str, str], str | None] = {}

    def observe(self, timed: Iterable[tuple[Event, float]]) -> list[Anomaly]:
        found: list[Anomaly] = []
        ends, counts = self.ends, self.counts
        for event, when in timed:
            key = event.template_id
            if key is None:
                continue
            source = event.source
            if when >= ends.get(source, -math.inf):
                self._roll(found, source, when)
            per_source = counts[source]
            if key in per_source:
                per_source[key] += 1
            else:
                per_source[key] = 1
                self.templates[(source, key)] = event.template
        return found

    def _roll(self, found: list[Anomaly], source: str, when: float) -> None:
        """Close the source's open bucket (and the empty ones that passed, at most 10), open the one of `when`."""
        bucket = (when // self.bucket_s) * self.bucket_s
        start = self.current.get(source)
        if start is not None:
            found.extend(self._close(source, start))
            # buckets without any event of this source close empty (after a long silence the baselines
            # would only learn zeros)
            for _ in range(min(10, int((bucket - start) // self.bucket_s) - 1)):
                start += self.bucket_s
                found.extend(self._close(source, start))
        self.current[source] = bucket
        self.ends[source] = bucket + self.bucket_s

    def _close(self, source: str, start: float) -> list[Anomaly]:
        found = []
        counts = self.counts.pop(source, {})
        keys = {k for k in self.baselines if k[0] == source} | {(source, t) for t in counts}
        for key in keys:
            count = counts.get(key[1], 0)
            baseline = self.baselines.setdefault(key, _Baseline())
            if baseline.seen >= self.min_buckets and max(count, baseline.mean) >= self.min_count:
                z = baseline.z(count)
                if abs(z) >= self.z:  # flagged buckets stay out of the baseline, so it keeps describing normal
                    found.append(Anomaly(start + self.bucket_s, source, self.name, abs(z), self.z, {
                        "template_id": key[1], "template": self.templates.get(key), "bucket_start": start,
                        "bucket_seconds": self.bucket_s, "count": count, "baseline_mean": round(baseline.mean, 3),
                        "kind": "spike" if z > 0 else "drop"}))
                    continue
            baseline.update(count, self.alpha)
        return found


class ErrorRateSignal(RateSignal):
    """The error-level share per bucket and source, against its baseline (same bucket logic)."""

    name = "error_rate"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._kinds: dict[str | None, str] = {}  # level text -> "error" or "other"

    def observe(self, timed: Iterable[tuple[Event, float]]) -> list[Anomaly]:
        found: list[Anomaly] = []
        ends, counts, kinds = self.ends, self.counts, self._kinds
        for event, when in timed:
            source = event.source
            if when >= ends.get(source, -math.inf):
                self._roll(found, source, when)
            kind = kinds.get(event.level)
            if kind is None:
                kind = kinds[event.level] = "error" if (event.level or "").upper() in ERROR_LEVELS else "other"
                self.templates[(source, "error")] = "error-level events"
            per_source = counts[source]
            per_source[kind] = per_source.get(kind, 0) + 1
        return [a for a in found if a.evidence["template_id"] == "error"]
