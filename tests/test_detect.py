"""Detectors on synthetic sessions: normal sessions follow open/read*/close; anomalies break the pattern."""

from __future__ import annotations

import random

import numpy as np
import pytest

from logai.detect.deeplog import DeepLogDetector
from logai.detect.detectors import (
    InvariantsMiningDetector,
    IsolationForestDetector,
    PCADetector,
    SupervisedDetector,
)
from logai.detect.features import UNSEEN, EventCounter


def _sessions(n: int, seed: int, abnormal: bool = False) -> list[list[str]]:
    rng = random.Random(seed)
    sessions = []
    for _ in range(n):
        reads = ["read"] * rng.randint(1, 4)
        session = ["open", "alloc", *reads, "free", "close"]
        if abnormal:
            kind = rng.randrange(3)
            if kind == 0:
                session.remove("close")  # never closed
            elif kind == 1:
                session.insert(2, "exception")  # a template never seen in normal runs
            else:
                session = ["close", *session[1:-1], "open"]  # out of order
        sessions.append(session)
    return sessions


def test_event_counter_keeps_unseen_templates_in_one_column():
    counter = EventCounter().fit([["a", "b", "b"]])
    assert counter.schema == ["a", "b", UNSEEN]
    assert counter.transform([["b", "zzz", "zzz"]]).tolist() == [[0.0, 1.0, 2.0]]


@pytest.mark.parametrize("detector, min_f1", [
    (PCADetector(), 0.6), (InvariantsMiningDetector(), 0.6), (DeepLogDetector(epochs=30, top_k=2), 0.9)])
def test_unsupervised_detectors_flag_broken_sessions(detector, min_f1):
    train = _sessions(300, seed=1)
    test = _sessions(100, seed=2) + _sessions(100, seed=3, abnormal=True)
    labels = np.array([0] * 100 + [1] * 100)
    predicted = detector.fit(train).predict(test)
    tp = np.sum((predicted == 1) & (labels == 1))
    precision = tp / max(1, predicted.sum())
    recall = tp / 100
    f1 = 2 * precision * recall / max(1e-9, precision + recall)
    assert f1 >= min_f1, (type(detector).__name__, precision, recall)


def test_supervised_detector_learns_labels():
    train = _sessions(200, seed=4) + _sessions(60, seed=5, abnormal=True)
    labels = [0] * 200 + [1] * 60
    detector = SupervisedDetector("logistic").fit(train, labels)
    test = _sessions(50, seed=6) + _sessions(50, seed=7, abnormal=True)
    predicted = detector.predict(test)
    assert predicted[:50].mean() < 0.1 and predicted[50:].mean() > 0.6
    with pytest.raises(ValueError, match="unknown model"):
        SupervisedDetector("svm").fit(train, labels)


def test_deeplog_counts_misses_per_session():
    detector = DeepLogDetector(epochs=30, top_k=1).fit(_sessions(200, seed=8))
    scores = detector.score([["open", "alloc", "read", "free", "close"], ["open", "never-seen", "close"]])
    assert scores[0] <= 1 and scores[1] >= 1


def test_isolation_forest_isolates_count_outliers():
    """Isolation Forest is fitted on unlabelled traffic that already holds a few outliers (as in Loglizer):
    it can only split within the range it has seen, so outliers must be in the data it isolates."""
    storms = [["open", "alloc", *["read"] * 40, "free", "close"] for _ in range(10)]
    detector = IsolationForestDetector(contamination=0.04).fit(_sessions(290, seed=1) + storms)
    assert detector.predict(storms).mean() == 1.0
    assert detector.predict(_sessions(100, seed=2)).mean() < 0.1


@pytest.mark.parametrize("detector", [PCADetector(), DeepLogDetector(epochs=3, top_k=2)])
def test_detectors_save_and_load_with_their_manifest(detector, tmp_path):
    import json

    from logai.detect.persist import DetectorFileError, load, save

    train, test = _sessions(100, seed=1), _sessions(20, seed=2) + _sessions(20, seed=3, abnormal=True)
    detector.fit(train)
    folder = save(detector, tmp_path / "det")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["class"] == type(detector).__name__ and "open" in manifest["feature_schema"]
    restored = load(folder, expected_class=type(detector).__name__)
    assert np.array_equal(restored.score(test), detector.score(test))
    with pytest.raises(DetectorFileError, match="not a"):
        load(folder, expected_class="SomethingElse")
    (folder / "detector.pkl").write_bytes(b"garbage")
    with pytest.raises(DetectorFileError, match="cannot read"):
        load(folder)
    with pytest.raises(DetectorFileError, match="manifest"):
        load(tmp_path / "missing")


def test_logrobust_generalises_to_reworded_templates(tmp_path):
    """Semantic template vectors (the packaged MiniLM): an anomaly template never seen in training, worded
    differently, is still recognised; a saved detector reloads without pickling the encoder."""
    from logai.detect.logrobust import LogRobustDetector
    from logai.detect.persist import load, save

    normal = ["open file <*>", "read <*> bytes from <*>", "close file <*>"]
    rng = random.Random(0)
    train = [normal[:1] + normal[1:2] * rng.randint(1, 3) + normal[2:] for _ in range(80)]
    broken = [[*normal[:2], "disk error while reading <*>"] for _ in range(40)]
    detector = LogRobustDetector(epochs=30, random_state=0).fit(train + broken, [0] * 80 + [1] * 40)
    test_normal = [normal[:1] + normal[1:2] * 2 + normal[2:] for _ in range(10)]
    test_broken = [[*normal[:2], "I/O failure reading sector <*> on disk"] for _ in range(10)]  # unseen wording
    scores = detector.score(test_normal + test_broken)
    assert scores[:10].max() < 0.5 < scores[10:].min()
    restored = load(save(detector, tmp_path / "lr"))
    assert not hasattr(restored, "embedder_")
    assert np.allclose(restored.score(test_broken), scores[10:], atol=1e-5)
