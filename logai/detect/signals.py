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

from logai.events import ERROR_LEVELS, Event


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


class _Novelty:
    """One source's new-template bookkeeping: the templates seen (oldest forgotten past a cap) and the share of
    new templates in the current block of events."""

    __slots__ = ("block_events", "block_new", "events", "exploded", "seen")

    def __init__(self) -> None:
        self.seen: dict[str, None] = {}  # insertion-ordered set
        self.events = self.block_events = self.block_new = 0
        self.exploded = False


class NewTemplateSignal:
    """A template never seen in a source, after a warm-up. When new templates stop being rare (random tokens,
    an unstructured source: at least `explosion_min_new` of them and `explosion_ratio` of a block of
    `explosion_window` events), the source is flagged once as a template explosion, and its new templates are
    not reported one by one until their share falls below half that ratio."""

    name = "new_template"
    explosion = "template_explosion"

    def __init__(self, warmup_events: int = 10_000, explosion_ratio: float = 0.2, explosion_min_new: int = 50,
                 explosion_window: int = 1000, max_templates: int = 50_000):
        self.warmup_events = warmup_events
        self.explosion_ratio = explosion_ratio
        self.explosion_min_new = explosion_min_new
        self.explosion_window = explosion_window
        self.max_templates = max_templates
        self.sources: dict[str, _Novelty] = {}

    def observe(self, timed: Iterable[tuple[Event, float]]) -> list[Anomaly]:
        found = []
        for event, when in timed:
            state = self.sources.get(event.source)
            if state is None:
                state = self.sources[event.source] = _Novelty()
            state.events += 1
            state.block_events += 1
            tid = event.template_id
            if tid is not None and tid not in state.seen:
                state.seen[tid] = None
                if len(state.seen) > self.max_templates:
                    del state.seen[next(iter(state.seen))]
                if state.events > self.warmup_events:
                    state.block_new += 1
                    if not state.exploded:
                        found.append(Anomaly(when, event.source, self.name, 1.0, None,
                                             {"template_id": tid, "template": event.template,
                                              "line": event.line, "content": event.content[:500]}))
            found.extend(self._explosion(state, event, when))
        return found

    def _explosion(self, state: _Novelty, event: Event, when: float) -> list[Anomaly]:
        share = state.block_new / state.block_events
        out = []
        if not state.exploded and state.block_new >= self.explosion_min_new and share >= self.explosion_ratio:
            state.exploded = True
            out.append(Anomaly(when, event.source, self.explosion, share, self.explosion_ratio,
                               {"reason": "unstructured source / template explosion: new templates are no "
                                          "longer rare, so they are not reported one by one",
                                "new_templates": state.block_new, "events": state.block_events,
                                "templates_known": len(state.seen)}))
        if state.block_events >= self.explosion_window:
            if state.exploded and share < self.explosion_ratio / 2:
                state.exploded = False  # calm again: single new templates are news again
            state.block_events = state.block_new = 0
        return out


FORGET_BELOW = 0.01  # a baseline mean this low (no event for dozens of buckets) is dropped


class RateSignal:
    """Counts per (source, template) per bucket; a closed bucket is compared with the template's baseline."""

    name = "template_rate"

    def __init__(self, bucket_s: float = 60.0, z: float = 6.0, min_count: int = 20, alpha: float = 0.1,
                 min_buckets: int = 5):
        self.bucket_s, self.z, self.min_count, self.alpha, self.min_buckets = bucket_s, z, min_count, alpha, min_buckets
        self.current: dict[str, float] = {}  # source -> start of the open bucket
        self.ends: dict[str, float] = {}  # source -> end of the open bucket
        self.counts: dict[str, dict[str, int]] = defaultdict(dict)
        self.baselines: dict[str, dict[str, _Baseline]] = defaultdict(dict)  # source -> template -> baseline
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
        baselines = self.baselines[source]
        for template in [*baselines.keys() | counts.keys()]:
            key = (source, template)
            count = counts.get(template, 0)
            baseline = baselines.get(template)
            if baseline is None:
                baseline = baselines[template] = _Baseline()
            elif count == 0 and baseline.mean < FORGET_BELOW and baseline.seen >= self.min_buckets:
                del baselines[template]  # gone quiet for long: its state goes (a template explosion's
                self.templates.pop(key, None)  # one-off templates would otherwise be kept for ever)
                continue
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
