"""Detectors on synthetic sessions: normal sessions follow open/read*/close; anomalies break the pattern."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

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
    scores = detector.score_samples([["open", "alloc", "read", "free", "close"], ["open", "never-seen", "close"]])
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
    assert np.array_equal(restored.score_samples(test), detector.score_samples(test))
    with pytest.raises(DetectorFileError, match="not a"):
        load(folder, expected_class="SomethingElse")
    (folder / "detector.skops").write_bytes(b"garbage")
    with pytest.raises(DetectorFileError, match="sha256"):
        load(folder)
    manifest["files"]["detector.skops"] = hashlib.sha256(b"garbage").hexdigest()  # damaged, hash made to match
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DetectorFileError, match=r"cannot read|does not load"):
        load(folder)
    with pytest.raises(DetectorFileError, match="manifest"):
        load(tmp_path / "missing")


@pytest.mark.parametrize("detector", [IsolationForestDetector(), InvariantsMiningDetector(),
                                      SupervisedDetector(model="logistic"), SupervisedDetector(model="gbdt")])
def test_every_count_detector_round_trips_without_pickle(detector, tmp_path):
    from logai.detect.persist import load, save

    train = _sessions(60, seed=1) + _sessions(20, seed=4, abnormal=True)
    test = _sessions(10, seed=2) + _sessions(10, seed=3, abnormal=True)
    detector.fit(train, [0] * 60 + [1] * 20)
    restored = load(save(detector, tmp_path / "det"))
    assert np.array_equal(restored.score_samples(test), detector.score_samples(test))
    assert not list((tmp_path / "det").glob("*.pkl"))


def test_deeplog_without_its_weights_is_refused(tmp_path):
    import json

    from logai.detect.persist import DetectorFileError, load, save

    folder = save(DeepLogDetector(epochs=1, top_k=2).fit(_sessions(30, seed=1)), tmp_path / "dl")
    manifest = json.loads((folder / "manifest.json").read_text())
    del manifest["files"]["weights.safetensors"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DetectorFileError, match="needs its weights"):
        load(folder)


class _Payload:
    """Writes a marker file when unpickled or rebuilt: the proof that loading ran code."""

    marker: Path | None = None

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))

    def __setstate__(self, state):
        Path(state["marker"]).write_text("code ran")


def test_a_crafted_pickle_is_never_executed(tmp_path):
    import json
    import pickle

    from logai.detect.persist import DetectorFileError, load

    marker = tmp_path / "ran.txt"
    for manifest in ({"format": 1, "class": "PCADetector", "feature_schema": []},  # the old pickle format
                     {"format": 2, "class": "PCADetector", "feature_schema": [],
                      "files": {"detector.pkl": "", "detector.skops": ""}}):
        folder = tmp_path / f"crafted{manifest['format']}"
        folder.mkdir()
        payload = pickle.dumps(_Payload(marker))
        (folder / "detector.pkl").write_bytes(payload)
        (folder / "detector.skops").write_bytes(payload)
        manifest.setdefault("files", {})
        for name in manifest["files"]:
            manifest["files"][name] = hashlib.sha256(payload).hexdigest()
        (folder / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(DetectorFileError):
            load(folder)
    assert not marker.exists()


def test_a_skops_file_with_an_untrusted_type_is_refused_before_it_is_built(tmp_path):
    import json

    import skops.io

    from logai.detect.persist import DetectorFileError, load

    marker = tmp_path / "ran.txt"
    folder = tmp_path / "crafted"
    folder.mkdir()
    skops.io.dump({"detector": _Payload(marker)}, folder / "detector.skops")
    payload = (folder / "detector.skops").read_bytes()
    (folder / "manifest.json").write_text(json.dumps({
        "format": 2, "class": "PCADetector", "feature_schema": [],
        "files": {"detector.skops": hashlib.sha256(payload).hexdigest()}}))
    with pytest.raises(DetectorFileError, match=r"does not load: .*_Payload"):
        load(folder)
    assert not marker.exists()


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
    scores = detector.score_samples(test_normal + test_broken)
    assert scores[:10].max() < 0.5 < scores[10:].min()
    restored = load(save(detector, tmp_path / "lr"))
    assert not hasattr(restored, "embedder_")
    assert np.allclose(restored.score_samples(test_broken), scores[10:], atol=1e-5)


@pytest.mark.parametrize("make", [lambda: PCADetector(variance=0.9), lambda: IsolationForestDetector(n_estimators=20),
                                  lambda: InvariantsMiningDetector(), lambda: SupervisedDetector(model="logistic")])
def test_detectors_are_scikit_learn_estimators(make):
    """get_params/set_params/clone work, and clone gives an unfitted copy that fits to the same scores."""
    from sklearn.base import clone

    detector = make()
    params = detector.get_params()
    assert params and clone(detector).get_params() == params
    first = next(iter(params))
    assert detector.set_params(**{first: params[first]}) is detector
    sessions = [["open", "read", "close"]] * 20 + [["open", "write", "close"]] * 20 + [["open", "boom"]] * 2
    labels = [0] * 40 + [1] * 2
    fitted = detector.fit(sessions, labels)
    copy = clone(fitted)
    assert not hasattr(copy, "threshold_")
    copy.fit(sessions, labels)
    assert np.allclose(copy.score_samples(sessions), fitted.score_samples(sessions))
    assert np.array_equal(fitted.predict(sessions), (fitted.decision_function(sessions) > 0).astype(int))
