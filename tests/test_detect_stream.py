"""Anomaly detection in the stream: grouping, signals, the scorer inside the ingest service, and the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from logai.config import DetectConfig, Settings
from logai.detect.grouping import SessionGrouper, WindowGrouper
from logai.detect.signals import ErrorRateSignal, NewTemplateSignal, RateSignal
from logai.events import Event, Param

LOGAI = str(Path(sys.executable).with_name("logai"))


def ev(line: int, template: str, ts: float, block: str | None = None, level: str = "INFO",
       source: str = "s") -> tuple[Event, float]:
    params = [Param(block, "id", "block")] if block else []
    return Event(raw="", source=source, line=line, level=level, template_id=template, template=template,
                 params=params), ts


def test_sessions_close_on_timeout_and_flush():
    grouper = SessionGrouper(concept="block", timeout_s=10)
    assert grouper.add([ev(1, "open", 0, "b1"), ev(2, "open", 1, "b2"), ev(3, "read", 2, "b1"),
                        ev(4, "ping", 3)]) == []
    closed = grouper.add([ev(5, "close", 15, "b2")])  # b1 idle for 13 s: closed; b2 extended
    assert [(g.key, g.templates) for g in closed] == [("b1", ["open", "read"])]
    assert [(g.key, g.templates) for g in grouper.flush()] == [("b2", ["open", "close"])]
    by_value = SessionGrouper(pattern=r"blk_\d+")
    by_value.add([ev(1, "x", 0, "blk_7")])
    assert by_value.flush()[0].key == "blk_7"
    with pytest.raises(ValueError):
        SessionGrouper()


def test_fixed_sliding_and_count_windows():
    fixed = WindowGrouper(size_s=10)
    closed = fixed.add([ev(i, f"t{i}", ts) for i, ts in enumerate([0, 5, 9, 12, 25])])
    assert [g.templates for g in closed] == [["t0", "t1", "t2"], ["t3"]]
    sliding = WindowGrouper(size_s=10, step_s=5)
    closed = sliding.add([ev(i, f"t{i}", ts) for i, ts in enumerate([0, 6, 12, 30])])
    # windows [-5,5), [0,10), [5,15), [10,20) close when t=30 arrives
    assert [g.templates for g in closed] == [["t0"], ["t0", "t1"], ["t1", "t2"], ["t2"]]
    counted = WindowGrouper(size_s=None, count=2)
    assert [g.templates for g in counted.add([ev(i, f"t{i}", 0) for i in range(5)])] == [["t0", "t1"],
                                                                                         ["t2", "t3"]]


def test_new_template_signal_after_warmup():
    signal = NewTemplateSignal(warmup_events=2)
    assert signal.observe([ev(1, "a", 0), ev(2, "b", 1)]) == []
    found = signal.observe([ev(3, "a", 2), ev(4, "c", 3)])
    assert [a.evidence["template_id"] for a in found] == ["c"]


def test_rate_signal_flags_spikes_and_drops():
    signal = RateSignal(bucket_s=60, z=4, min_count=10, min_buckets=3)
    items = []
    for minute in range(8):
        n = 20 if minute != 6 else 200  # minute 6 spikes
        items += [ev(minute * 1000 + i, "steady", minute * 60 + i * 0.1) for i in range(n)]
    items += [ev(99_999, "other", 8 * 60)]  # closes minute 7
    found = signal.observe(items)
    assert [(a.evidence["kind"], a.evidence["bucket_start"]) for a in found] == [("spike", 360.0)]
    drop = signal.observe([ev(100_000, "other", 11 * 60)])  # minutes 8-10: "steady" vanished
    assert any(a.evidence["kind"] == "drop" and a.evidence["template_id"] == "steady" for a in drop)


def test_error_rate_signal():
    signal = ErrorRateSignal(bucket_s=60, z=4, min_count=5, min_buckets=3)
    items = []
    for minute in range(6):
        errors = 40 if minute == 5 else 1
        items += [ev(minute * 100 + i, "x", minute * 60 + i, level="ERROR" if i < errors else "INFO")
                  for i in range(50)]
    items += [ev(10_000, "x", 6 * 60)]
    assert [a.detector for a in signal.observe(items)] == ["error_rate"]


def _block_log(path: Path, normal: int, broken: int) -> Path:
    """A log in the generic format: blocks are opened, written, closed; broken ones fail or never close."""
    lines = []
    t = 0
    for b in range(normal + broken):
        block = f"blk_{1000 + b}"
        steps = [f"INFO allocate block {block} on node-3", f"INFO write 64 MB to block {block}",
                 f"INFO close block {block} after write"]
        if b >= normal:
            steps = [steps[0], f"ERROR checksum mismatch on block {block} from node-3"]
        for step in steps:
            t += 1
            lines.append(f"2026-11-24 10:{t // 60 % 60:02d}:{t % 60:02d} {step}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_trains_saves_and_scores(tmp_path):
    train = _block_log(tmp_path / "train.log", normal=60, broken=0)
    test = _block_log(tmp_path / "test.log", normal=20, broken=5)
    out = tmp_path / "model"
    result = subprocess.run([LOGAI, "detect", "train", "--detector", "pca", "--input", str(train),
                             "--session-pattern", r"blk_\d+", "--out", str(out)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    result = subprocess.run([LOGAI, "detect", "score", "--model", str(out), "--input", str(test),
                             "--session-pattern", r"blk_\d+"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    flagged = {orjson.loads(line)["group"] for line in result.stdout.splitlines()}
    assert flagged == {f"blk_{1000 + b}" for b in range(20, 25)}
    assert "5 of 25 groups anomalous" in result.stderr
    bad = subprocess.run([LOGAI, "detect", "train", "--detector", "logistic", "--input", str(train),
                          "--session-pattern", r"blk_\d+", "--out", str(out)], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode != 0 and "supervised" in bad.stderr


def test_service_stores_stream_anomalies_and_api_lists_them(tmp_path):
    from fastapi.testclient import TestClient

    from logai.api.app import create_app
    from logai.bootstrap import build_service
    from logai.detect.persist import save
    from logai.detect.training import collect_groups, fit

    train = _block_log(tmp_path / "train.log", normal=60, broken=0)
    settings = Settings(data_dir=tmp_path / "data")
    service = build_service(settings)
    with open(train, "rb") as handle:
        groups = collect_groups(service.pipeline.parse_stream(handle, source="svc", format_name="generic"),
                                pattern=r"blk_\d+")
    save(fit("pca", groups), tmp_path / "model")
    service.close()

    settings = Settings(data_dir=tmp_path / "data2", detect=DetectConfig(
        session_pattern=r"blk_\d+", session_timeout_s=30, model_path=tmp_path / "model", new_template_warmup=50))
    service = build_service(settings)
    lines = _block_log(tmp_path / "test.log", normal=20, broken=5).read_bytes().splitlines()
    result = service.ingest(lines, source="svc", format_name="generic", keys=[f"k{i}" for i in range(len(lines))],
                            door="test")
    service.close()  # open sessions are scored at close
    detectors = {a.detector for a in result.anomalies}
    assert "new_template" in detectors  # the checksum-error template was never seen in the first 50 events
    with TestClient(create_app(settings)) as client:
        listed = client.get("/v1/anomalies", params={"limit": 500}).json()
    rows = listed["anomalies"] if isinstance(listed, dict) else listed
    flagged = {r["evidence"].get("group") for r in rows if r["detector"] == "PCADetector"}
    assert flagged == {f"blk_{1000 + b}" for b in range(20, 25)}


def test_out_of_order_events_and_sessions_that_never_close():
    grouper = SessionGrouper(concept="block", timeout_s=10, max_open=2)
    closed = grouper.add([ev(1, "open", 100, "b1"), ev(2, "late", 50, "b1"), ev(3, "open", 101, "b2")])
    assert closed == [] and grouper.open["b1"].templates == ["open", "late"]  # a late event joins its session
    closed = grouper.add([ev(4, "open", 102, "b3")])  # a third open session: the least recent is evicted
    assert [g.key for g in closed] == ["b1"]
    windows = WindowGrouper(size_s=10)
    closed = windows.add([ev(1, "a", 100), ev(2, "b", 115), ev(3, "late", 101), ev(4, "c", 130)])
    assert sorted(t for g in closed for t in g.templates) == ["a", "b", "late"]  # nothing lost


@pytest.mark.parametrize("name", ["pca", "isolation_forest", "invariants", "deeplog", "logistic", "gbdt"])
def test_detectors_give_clear_results_on_degenerate_input(name):
    import numpy as np

    from logai.detect.training import make_detector

    train = [["open", "read", "close"]] * 30 + [["open", "error"]] * 10
    detector = make_detector(name)
    if name in {"logistic", "gbdt"}:
        detector.fit(train, [0] * 30 + [1] * 10)
    else:
        detector.fit(train[:30])
    assert len(detector.score_samples([])) == 0  # an empty batch of windows
    scores = detector.score_samples([[], ["never-seen", "templates"]])  # an empty window, unseen templates
    assert len(scores) == 2 and np.all(np.isfinite(scores))


def test_cli_trains_logrobust_on_template_texts(tmp_path):
    train = _block_log(tmp_path / "train.log", normal=40, broken=20)
    labels = tmp_path / "labels.csv"
    labels.write_text("BlockId,Label\n" + "".join(f"blk_{1000 + b},{'Anomaly' if b >= 40 else 'Normal'}\n"
                                                  for b in range(60)))
    out = tmp_path / "lr"
    result = subprocess.run([LOGAI, "detect", "train", "--detector", "logrobust", "--input", str(train),
                             "--session-pattern", r"blk_\d+", "--labels", str(labels), "--out", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    test = _block_log(tmp_path / "test.log", normal=10, broken=3)
    result = subprocess.run([LOGAI, "detect", "score", "--model", str(out), "--input", str(test),
                             "--session-pattern", r"blk_\d+"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert {orjson.loads(line)["group"] for line in result.stdout.splitlines()} == {"blk_1010", "blk_1011",
                                                                                    "blk_1012"}
