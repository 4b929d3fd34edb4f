"""Bad input gets a clear flag and loses nothing: one event per input line, always."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

LOGAI = str(Path(sys.executable).with_name("logai"))
GOOD = b"081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_1 terminating"


def parse_bytes(tmp_path: Path, payload: bytes, fmt: str = "HDFS") -> list[dict]:
    log = tmp_path / "in.log"
    log.write_bytes(payload)
    result = subprocess.run([LOGAI, "parse", "--format", fmt, str(log)], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [orjson.loads(line) for line in result.stdout.splitlines()]


def test_invalid_utf8_is_escaped_and_flagged(tmp_path):
    out = parse_bytes(tmp_path, GOOD + b" caf\xe9 \xff\xfe\n" + GOOD + b"\n")
    assert len(out) == 2
    assert "invalid_utf8" in out[0]["flags"] and "\\xff" in out[0]["raw"]
    assert out[1]["flags"] == []


def test_one_megabyte_line(tmp_path):
    huge = b"081109 203615 148 INFO dfs.DataNode: " + b"x" * (1024 * 1024)
    out = parse_bytes(tmp_path, GOOD + b"\n" + huge + b"\n" + GOOD + b"\n")
    assert len(out) == 3
    assert "truncated" in out[1]["flags"]
    assert len(out[1]["raw"]) == len(huge)  # nothing lost from the record itself


def test_empty_and_blank_lines(tmp_path):
    out = parse_bytes(tmp_path, b"\n   \n" + GOOD + b"\n\r\n")
    assert [e["line"] for e in out] == [1, 2, 3, 4]
    assert [("empty" in e["flags"]) for e in out] == [True, True, False, True]
    assert out[2]["template_id"] is not None


def test_nul_bytes(tmp_path):
    out = parse_bytes(tmp_path, GOOD.replace(b"terminating", b"term\x00inating") + b"\n")
    assert "nul_bytes" in out[0]["flags"] and "\x00" in out[0]["raw"]


def test_line_matching_no_format_is_kept_whole(tmp_path):
    out = parse_bytes(tmp_path, b"garbage that is not HDFS\n" + GOOD + b"\n")
    assert out[0]["flags"] == ["no_header"]
    assert out[0]["content"] == "garbage that is not HDFS" and out[0]["template"]


def test_binary_garbage(tmp_path):
    payload = bytes(range(256)) * 4 + b"\n" + GOOD  # the garbage itself holds four newlines
    out = parse_bytes(tmp_path, payload, fmt="generic")
    assert len(out) == payload.count(b"\n") + 1
    assert all(e["template_id"] for e in out if "empty" not in e["flags"])


def test_no_trailing_newline_and_crlf(tmp_path):
    out = parse_bytes(tmp_path, GOOD + b"\r\n" + GOOD)
    assert len(out) == 2 and not out[0]["raw"].endswith("\r")
