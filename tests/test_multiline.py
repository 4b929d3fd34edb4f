"""Multi-line records: stack traces and tracebacks become one event, through `logai parse` and the HTTP door."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from logai.config import SemanticsConfig, Settings
from logai.events import FLAG_MULTILINE, FLAG_NO_HEADER
from logai.parsing.format_detect import detect_format
from logai.parsing.formats import FormatRegistry
from logai.parsing.multiline import join_continuations
from logai.pipeline import Pipeline

LOGAI = str(Path(sys.executable).with_name("logai"))

JAVA = [
    "2024-01-15 10:23:45,123 INFO  [main] com.example.App - Started in 2 s",
    "2024-01-15 10:23:46,001 ERROR [http-nio-8080-exec-1] com.example.Checkout - Unhandled exception for order 42",
    "java.net.SocketTimeoutException: Read timed out",
    "\tat java.base/java.net.SocketInputStream.read(SocketInputStream.java:168)",
    "\tat com.example.Checkout.pay(Checkout.java:88)",
    "Caused by: java.io.IOException: connection reset",
    "\t... 12 more",
    "2024-01-15 10:23:47,500 ERROR [http-nio-8080-exec-2] com.example.Checkout - Unhandled exception for order 43",
    "java.lang.IllegalStateException: closed",
    "\tat com.example.Checkout.pay(Checkout.java:91)",
    "2024-01-15 10:23:48,000 INFO  [main] com.example.App - Order 44 created",
]
PYTHON = [
    "2024-01-15 10:23:45,123 - app.api - ERROR - unhandled error in GET /orders/7",
    "Traceback (most recent call last):",
    '  File "/srv/app/api.py", line 42, in get',
    "    return repo.load(key)",
    "",
    "KeyError: 7",
    "2024-01-15 10:23:46,000 - app.api - INFO - GET /orders/8 done",
]


def _pipeline() -> Pipeline:
    return Pipeline(Settings(semantics=SemanticsConfig(enabled=False)))


def _parse(lines: list[str], fmt: str, pipeline: Pipeline | None = None) -> list:
    data = ("\n".join(lines) + "\n").encode()
    return list((pipeline or _pipeline()).parse_stream(io.BytesIO(data), source="app", format_name=fmt))


def test_a_java_stack_trace_is_one_event_whose_template_is_its_first_line():
    events = _parse(JAVA, "log4j")
    assert [e.line for e in events] == [1, 2, 8, 11]
    assert [e.raw for e in events] == [JAVA[0], "\n".join(JAVA[1:7]), "\n".join(JAVA[7:10]), JAVA[10]]
    trace, other = events[1], events[2]
    assert trace.template == other.template == "Unhandled exception for order <*>"
    assert trace.template_id == other.template_id and [p.value for p in trace.params] == ["42"]
    assert trace.content.startswith("Unhandled exception for order 42\njava.net.SocketTimeoutException")
    assert trace.fields["Thread"] == "http-nio-8080-exec-1" and trace.level == "ERROR"
    assert FLAG_MULTILINE in trace.flags and FLAG_MULTILINE not in events[0].flags
    assert not any(FLAG_NO_HEADER in e.flags for e in events)
    assert events[2].offset == sum(len(line) + 1 for line in JAVA[:7])  # byte offset of the record's first line


def test_a_python_traceback_with_a_blank_line_is_one_event():
    events = _parse(PYTHON, "python-logging")
    assert len(events) == 2 and events[0].raw == "\n".join(PYTHON[:6]) and events[1].line == 7
    assert events[0].template == "unhandled error in GET <*>"


def test_formats_without_multiline_keep_one_event_per_line():
    events = _parse(["081109 203615 148 INFO dfs.DataNode: PacketResponder 1 terminating", "  continued?"], "HDFS")
    assert len(events) == 2 and FLAG_NO_HEADER in events[1].flags


def test_lines_before_the_first_record_stand_alone_and_limits_cut_records_without_losing_lines():
    pipeline = _pipeline()
    pipeline.settings.parsing.max_record_lines = 3
    lines = ["\tat a.B.c(B.java:1)", *JAVA[1:7]]
    events = _parse(lines, "log4j", pipeline)
    assert [e.line for e in events] == [1, 2, 5]  # a 6-line record cut after 3 lines
    assert "\n".join(e.raw for e in events) == "\n".join(lines)  # nothing lost
    assert FLAG_NO_HEADER in events[0].flags and FLAG_NO_HEADER in events[2].flags


def test_join_continuations_cuts_at_max_chars_and_merges_flags():
    items = [(1, "start", []), (2, " more", ["invalid_utf8"]), (3, " x" * 20, []), (4, "start", [])]
    out = list(join_continuations(items, lambda t: t != "start", max_lines=100, max_chars=20))
    assert [keys for keys, _, _ in out] == [[1, 2], [3], [4]]
    assert out[0][1] == "start\n more" and out[0][2] == ["invalid_utf8", FLAG_MULTILINE]


def test_detection_reads_a_log_made_mostly_of_traces_but_prefers_a_format_that_reads_every_line():
    registry = FormatRegistry.load()
    mostly_trace = [JAVA[1]] + [JAVA[3]] * 8  # 1 header in 9 lines
    assert detect_format(mostly_trace, registry) == "log4j"
    assert detect_format([JAVA[3]] * 9, registry) == "generic"  # continuations alone prove nothing
    assert detect_format(JAVA, registry) == "log4j"


def test_logai_parse_writes_one_event_per_record(tmp_path):
    log = tmp_path / "app.log"
    log.write_text("\n".join(JAVA * 3) + "\n")
    result = subprocess.run([LOGAI, "parse", str(log)], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    out = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 12 and [e["line"] for e in out[:4]] == [1, 2, 8, 11]
    assert out[1]["raw"].count("\n") == 5 and "multiline" in out[1]["flags"]
    assert out[1]["template"] == "Unhandled exception for order <*>"


@pytest.mark.parametrize("chunk_lines", [3, 5])
def test_http_ingest_keeps_a_trace_whole_across_its_chunks(door_client, monkeypatch, chunk_lines):
    import functools

    import logai.service

    # the trace straddles a chunk boundary
    monkeypatch.setattr(logai.service, "chunks", functools.partial(logai.service.chunks, max_items=chunk_lines))
    body = ("\n".join(JAVA) + "\n").encode()
    r = door_client.post("/v1/ingest", params={"source": "app", "format": "log4j"}, content=body)
    assert r.status_code == 200, r.text
    assert r.json() | {"template_ids": None} == {"received": 11, "stored": 4, "duplicates": 0, "dead_letters": 0,
                                                 "joined": 7, "template_ids": None}
    events = door_client.get("/v1/events", params={"source": "app"}).json()["events"]
    assert sorted(e["line"] for e in events) == [1, 2, 8, 11]
    assert next(e for e in events if e["line"] == 2)["content"].endswith("\t... 12 more")


@pytest.mark.parametrize("name", sorted(__import__("pipelines.format_samples").format_samples.MULTILINE))
def test_generated_traces_of_every_multiline_format_come_out_one_event_per_record(name):
    """Java traces, Python tracebacks, Go stacks, Ruby backtraces and continued SQL after error records
    (pipelines/format_samples.py): the format is detected, and each record is exactly one event."""
    from pipelines.format_samples import EXPECTED, records

    texts = records(name, seed=7, count=80)
    pipeline = _pipeline()
    lines = "\n".join(texts).split("\n")
    assert sum(map(len, texts)) > 0 and len(lines) > len(texts)  # the sample has traces
    fmt = pipeline.detect_format([line.encode() for line in lines])
    assert fmt == EXPECTED[name]
    assert [e.raw for e in _parse(lines, fmt, pipeline)] == texts



@pytest.mark.parametrize("door", ["ingest", "watch"])
def test_file_doors_keep_a_trace_whole_when_a_batch_or_read_limit_falls_inside_it(tmp_path, monkeypatch, door):
    """`logai serve --ingest` stores a file in batches and `--watch` reads it in bounded reads: a batch ends
    before a record's first line, and a read cut by its limit holds its last record back for the next read."""
    import logai.doors.files
    from logai.bootstrap import build_service
    from logai.config import RetentionConfig
    from logai.doors.files import ingest_file
    from logai.doors.watcher import FileWatcher, Retention

    log = tmp_path / "app.log"
    log.write_text("\n".join(JAVA) + "\n")
    service = build_service(Settings(data_dir=tmp_path / "data", semantics=SemanticsConfig(enabled=False)))
    try:
        if door == "ingest":
            monkeypatch.setattr(logai.doors.files, "BATCH_LINES", 3)
            assert ingest_file(service, log, "log4j") == 4
        else:
            watcher = FileWatcher(service, [(log, "log4j")], tmp_path / "offsets.json", Retention(RetentionConfig()))
            watcher.tails[0][0].chunk_bytes = 400  # the first read stops inside the first trace
            while watcher.poll_once():
                pass
        stored = {e.line: e.content for e in service.store.iter_events()}  # lines numbered in the file
        assert sorted(stored) == [1, 2, 8, 11]
        assert stored[2].endswith("Caused by: java.io.IOException: connection reset\n\t... 12 more")
        assert stored[8].count("\n") == 2
    finally:
        service.close()


def test_logai_formats_marks_the_multiline_formats():
    result = subprocess.run([LOGAI, "formats"], capture_output=True, timeout=120)
    rows = {line.split()[0]: line for line in result.stdout.decode().splitlines()}
    assert "[multi-line]" in rows["log4j"] and "[multi-line]" in rows["python-logging"]
    assert "[multi-line]" not in rows["HDFS"] and "journal-export" in rows
