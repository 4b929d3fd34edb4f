import logging

import orjson

from logai.config import ParsingConfig, Settings
from logai.parsing.state import STATE_VERSION, load_state, save_state
from logai.pipeline import Pipeline

LINES = [
    b"081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_1 terminating",
    b"081109 203616 149 INFO dfs.DataNode$PacketResponder: PacketResponder 2 for block blk_2 terminating",
    b"081109 203617 150 INFO dfs.FSNamesystem: BLOCK* ask 10.0.0.1:50010 to delete blk_3",
]


def pipeline_with_state(path) -> Pipeline:
    return Pipeline(Settings(parsing=ParsingConfig(state_file=path)))


def parse(pipeline: Pipeline, lines) -> list[str]:
    return [pipeline.parse_bytes(raw, source="hdfs", format_name="HDFS", line=i).template_id
            for i, raw in enumerate(lines, 1)]


def test_pipeline_state_survives_a_restart(tmp_path):
    path = tmp_path / "state.json"
    first = pipeline_with_state(path)
    ids_before = parse(first, LINES)
    first.close()
    assert path.exists()

    second = pipeline_with_state(path)
    assert parse(second, LINES[2:]) == ids_before[2:]
    restored = second.parser("HDFS").miners["hdfs"]
    assert restored.templates[ids_before[1]].count >= 2  # counts carried over


def test_atomic_write_leaves_no_temp_files(tmp_path):
    path = tmp_path / "s.json"
    save_state(path, {"a": {"format": "x", "miner": {}}})
    save_state(path, {"b": {"format": "x", "miner": {}}})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]
    assert list(load_state(path)) == ["b"]


def test_corrupt_state_warns_and_starts_fresh(tmp_path, caplog):
    path = tmp_path / "state.json"
    path.write_bytes(b"{not json")
    with caplog.at_level(logging.WARNING):
        pipeline = pipeline_with_state(path)
    assert "starting with fresh templates" in caplog.text
    assert (tmp_path / "state.json.bad").exists()
    assert parse(pipeline, LINES)  # works normally


def test_old_version_state_warns_and_starts_fresh(tmp_path, caplog):
    path = tmp_path / "state.json"
    path.write_bytes(orjson.dumps({"kind": "logai-parser-state", "version": STATE_VERSION - 1, "sources": {}}))
    with caplog.at_level(logging.WARNING):
        assert load_state(path) == {}
    assert "version" in caplog.text


def test_invalid_miner_state_for_one_source_starts_that_source_fresh(tmp_path, caplog):
    path = tmp_path / "state.json"
    save_state(path, {"hdfs": {"format": "HDFS", "miner": {"version": 1, "garbage": True}}})
    with caplog.at_level(logging.WARNING):
        pipeline = pipeline_with_state(path)
        ids = parse(pipeline, LINES)
    assert "invalid" in caplog.text and len(ids) == 3
