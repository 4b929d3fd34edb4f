"""Training and batch scoring, shared by `logai detect`, the benchmark and the API: events in, groups out,
a detector fitted on them."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from logai.detect.base import Detector, SessionDetector
from logai.detect.deeplog import DeepLogDetector
from logai.detect.detectors import (
    InvariantsMiningDetector,
    IsolationForestDetector,
    PCADetector,
    SupervisedDetector,
)
from logai.detect.grouping import Group, SessionGrouper, WindowGrouper, event_time
from logai.detect.logrobust import LogRobustDetector
from logai.events import Event

DETECTORS: dict[str, Any] = {
    "pca": PCADetector, "isolation_forest": IsolationForestDetector, "invariants": InvariantsMiningDetector,
    "deeplog": DeepLogDetector, "logistic": lambda: SupervisedDetector("logistic"),
    "gbdt": lambda: SupervisedDetector("gbdt"), "logrobust": LogRobustDetector,
}
SUPERVISED = {"logistic", "gbdt", "logrobust"}


def make_detector(name: str) -> SessionDetector:
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r}; known: {', '.join(DETECTORS)}")
    return DETECTORS[name]()


def collect_groups(events: Iterable[Event], concept: str | None = None, pattern: str | None = None,
                   window_s: float | None = None, timeout_s: float = 1e12,
                   texts: dict[str, str] | None = None) -> list[Group]:
    """All sessions (by concept or value pattern) or fixed windows of a finite event stream; `texts`, when
    given, collects each template id's text (for detectors that read templates, like LogRobust)."""
    grouper: SessionGrouper | WindowGrouper
    if concept or pattern:
        grouper = SessionGrouper(concept, pattern, timeout_s=timeout_s, max_open=10**9)
    elif window_s:
        grouper = WindowGrouper(window_s)
    else:
        raise ValueError("group by a session concept, a session pattern or a window size")
    groups: list[Group] = []
    clock = 0.0
    batch: list[tuple[Event, float]] = []
    for event in events:
        clock = event_time(event, clock)
        batch.append((event, clock))
        if texts is not None and event.template_id is not None:
            texts[event.template_id] = event.template or ""
        if len(batch) >= 4096:
            groups.extend(grouper.add(batch))
            batch = []
    groups.extend(grouper.add(batch))
    groups.extend(grouper.flush())
    return groups


def read_labels(path: Path) -> dict[str, int]:
    """A CSV of `key,label` (Loghub's `BlockId,Label` with Normal/Anomaly, or 0/1)."""
    labels: dict[str, int] = {}
    with open(path, newline="") as handle:
        for row in csv.reader(handle):
            if len(row) < 2 or row[0].lower() in {"blockid", "key", "id"}:
                continue
            labels[row[0]] = 1 if row[1].strip().lower() in {"anomaly", "abnormal", "1", "true"} else 0
    return labels


def sequences_of(detector: Detector, groups: Sequence[Group], texts: dict[str, str] | None = None) -> list[list[str]]:
    """What a detector reads of each group: template ids, or their texts for text-reading detectors."""
    if getattr(detector, "uses_text", False):
        if texts is None:
            raise ValueError(f"{type(detector).__name__} reads template texts: collect them with the groups")
        return [[texts.get(t, t) for t in g.templates] for g in groups]
    return [g.templates for g in groups]


def fit(name: str, groups: Sequence[Group], labels: dict[str, int] | None = None,
        texts: dict[str, str] | None = None) -> SessionDetector:
    detector = make_detector(name)
    sequences = sequences_of(detector, groups, texts)
    if name in SUPERVISED:
        if not labels:
            raise ValueError(f"{name} is supervised: give labels for the groups")
        known = [(seq, labels[g.key]) for seq, g in zip(sequences, groups, strict=True) if g.key in labels]
        if len({y for _, y in known}) < 2:
            raise ValueError("the labels must contain both normal and anomalous groups")
        return detector.fit([s for s, _ in known], [y for _, y in known])
    if labels:  # semi-supervised and unsupervised detectors learn normal behaviour only
        sequences = [seq for seq, g in zip(sequences, groups, strict=True) if labels.get(g.key, 0) == 0]
    return detector.fit(sequences)
