"""`StreamScorer`: the detect stage, anomaly detection in the stream, run by the pipeline on every parsed batch.

Stream-native signals watch every event; closed sessions (and, if configured, windows) are scored by a
fitted detector loaded from disk. Everything comes back as `Anomaly` records with evidence, which the
service stores and the daemon publishes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from logai.config import DetectConfig
from logai.detect.base import Detector
from logai.detect.grouping import Group, SessionGrouper, WindowGrouper, event_time
from logai.detect.persist import load
from logai.detect.signals import Anomaly, ErrorRateSignal, NewTemplateSignal, RateSignal
from logai.detect.training import sequences_of
from logai.events import Event


class Signal(Protocol):
    """A stream-native detector: sees every (event, event time) and reports what it finds at once."""

    def observe(self, timed: Sequence[tuple[Event, float]]) -> list[Anomaly]: ...


class StreamScorer:
    def __init__(self, signals: Sequence[Signal] = (), sessions: SessionGrouper | None = None,
                 windows: WindowGrouper | None = None, detector: Detector | None = None,
                 detector_name: str = "detector"):
        self.signals = list(signals)
        self.sessions = sessions
        self.windows = windows
        self.detector = detector
        self.detector_name = detector_name
        self._clock = 0.0
        # template texts by id, kept only for detectors that read texts (LogRobust)
        self._texts: dict[str, str] | None = {} if getattr(detector, "uses_text", False) else None
        self._times: dict[str, float] = {}  # timestamp text -> epoch (a second's lines share one)

    @classmethod
    def from_config(cls, config: DetectConfig) -> StreamScorer:
        signals: list[Signal] = []
        if config.new_template:
            signals.append(NewTemplateSignal(config.new_template_warmup, config.explosion_ratio,
                                             config.explosion_min_new, config.explosion_window))
        if config.template_rate:
            signals.append(RateSignal(config.bucket_s, config.rate_z, config.rate_min_count))
        if config.error_rate:
            signals.append(ErrorRateSignal(config.bucket_s, config.rate_z, config.rate_min_count))
        sessions = None
        if config.session_concept or config.session_pattern:
            sessions = SessionGrouper(config.session_concept, config.session_pattern, config.session_timeout_s)
        windows = WindowGrouper(config.window_s) if config.window_s else None
        detector = load(Path(config.model_path)) if config.model_path else None
        name = type(detector).__name__ if detector is not None else "detector"
        return cls(signals, sessions, windows, detector, name)

    def process(self, events: Sequence[Event]) -> list[Anomaly]:
        """Feed parsed events; returns the anomalies they revealed."""
        timed = []
        clock = self._clock or time.time()
        cache = self._times
        for event in events:
            stamp = event.timestamp
            if not stamp:
                when = clock  # no timestamp: the stream's latest time
            elif (known := cache.get(stamp)) is not None:
                when = known
            else:
                when = cache[stamp] = event_time(event, clock)
                if len(cache) > 4096:
                    cache.clear()
            clock = when
            timed.append((event, when))
        self._clock = clock
        if self._texts is not None:
            for event in events:
                if event.template_id is not None and event.template_id not in self._texts:
                    self._texts[event.template_id] = event.template or ""
        found: list[Anomaly] = []
        for signal in self.signals:
            found.extend(signal.observe(timed))
        closed: list[Group] = []
        if self.sessions is not None:
            closed.extend(self.sessions.add(timed))
        if self.windows is not None:
            closed.extend(self.windows.add(timed))
        found.extend(self.score(closed))
        return found

    def flush(self) -> list[Anomaly]:
        closed = (self.sessions.flush() if self.sessions else []) + (self.windows.flush() if self.windows else [])
        return self.score(closed)

    def score(self, groups: list[Group]) -> list[Anomaly]:
        if self.detector is None or not groups:
            return []
        scores = self.detector.score_samples(sequences_of(self.detector, groups, self._texts))
        threshold = float(self.detector.threshold_)
        return [Anomaly(g.end, g.source, self.detector_name, float(s), threshold, {
                    "group": g.key, "start": g.start, "end": g.end, "templates": g.templates[:200],
                    "lines": [g.first_line, g.last_line], "events": len(g.templates)})
                for g, s in zip(groups, scores, strict=True) if s > threshold]


def evidence_for(events: Sequence[Event], anomalies: Sequence[Anomaly]) -> list[dict[str, Any] | None]:
    """Per event, what the in-stream detectors said in its batch about its source and template (new template,
    rate change, error burst, session detector): the evidence the router shows the LLM and cites in reasons."""
    by_template: dict[tuple[str, str], list[Anomaly]] = {}
    for anomaly in anomalies:
        templates = anomaly.evidence.get("templates") or [anomaly.evidence.get("template_id")]
        for template_id in templates:
            if template_id:
                by_template.setdefault((anomaly.source, str(template_id)), []).append(anomaly)
    out: list[dict[str, Any] | None] = []
    for event in events:
        found = by_template.get((event.source, event.template_id or ""), [])
        out.append({"signals": sorted({a.detector for a in found}),
                    "max_score": round(max(a.score for a in found), 3)} if found else None)
    return out
