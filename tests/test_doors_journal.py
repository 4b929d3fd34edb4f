"""systemd's Journal Export Format: POST /upload (what systemd-journal-upload sends) and `logai parse`."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import httpx
import orjson
import pytest

from logai.doors.bodies import BadBody
from logai.doors.journal import entry_fields, read_entries
from logai.parsing.format_detect import looks_like_export
from pipelines.local_services import ServeProcess
from tests.conftest import stored_events

LOGAI = str(Path(sys.executable).with_name("logai"))
UPLOAD = "/lib/systemd/systemd-journal-upload"
REMOTE = "/lib/systemd/systemd-journal-remote"
TRACE = b"Unhandled exception in worker 7\nTraceback (most recent call last):\n  File \"w.py\", line 3\nKeyError: 7"


def export(*entries: dict[str, bytes | str]) -> bytes:
    """Entries in the Journal Export Format; a value with a newline is written as a binary field."""
    out = b""
    for entry in entries:
        for name, value in entry.items():
            data = value.encode() if isinstance(value, str) else value
            if b"\n" in data:
                out += name.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n"
            else:
                out += name.encode() + b"=" + data + b"\n"
        out += b"\n"
    return out


SSHD = {"__CURSOR": "s=1;i=1", "__REALTIME_TIMESTAMP": "1705314225123456", "_HOSTNAME": "web-1",
        "SYSLOG_IDENTIFIER": "sshd", "_PID": "4242", "PRIORITY": "6",
        "MESSAGE": "Accepted publickey for alice from 10.0.0.5 port 52412"}
APP = {"__CURSOR": "s=1;i=2", "__REALTIME_TIMESTAMP": "1705314226000000", "_SYSTEMD_UNIT": "worker.service",
       "PRIORITY": "3", "MESSAGE": TRACE}


def test_entries_are_framed_and_read_with_binary_fields():
    body = export(SSHD, APP)
    entries = list(read_entries(io.BytesIO(body)))
    assert [offset for offset, _ in entries] == [0, body.index(b"\n\n") + 2]
    second = entry_fields(entries[1][1])
    assert second["MESSAGE"] == TRACE.decode() and second["PRIORITY"] == "3"
    assert b"".join(entry + b"\n" for _, entry in entries) == body  # entries and their empty lines: the body
    # the last entry needs no empty line after it
    assert list(read_entries(io.BytesIO(body.rstrip(b"\n") + b"\n"))) == entries
    lines = body.decode("utf-8", "replace").split("\n")
    assert looks_like_export([x for x in lines if x]) and not looks_like_export(["2024-01-01 INFO started"])


@pytest.mark.parametrize(("body", "says"), [
    (b"MESSAGE=no newline at the end", "does not end with a newline"),
    (b"MESSAGE\n\x05\x00\x00\x00\x00\x00\x00\x00ab\n", "runs past its size"),
    (b"MESSAGE\n\x01\x00", "has no size"),
    (b"not a field at all\n", "neither NAME=value nor a binary field name"),
])
def test_a_broken_framing_says_where(body, says):
    with pytest.raises(BadBody, match=says):
        list(read_entries(io.BytesIO(body)))


def test_upload_stores_entries_with_source_level_time_and_fields(door_client):
    no_message = {"__CURSOR": "s=1;i=3", "SYSLOG_IDENTIFIER": "cron", "PRIORITY": "6"}
    body = export(SSHD, APP, no_message)
    headers = {"Content-Type": "application/vnd.fdo.journal"}
    r = door_client.post("/upload", content=body, headers=headers)
    assert r.status_code == 202 and r.text == "OK. 1 entries refused: journal entry without a MESSAGE field\n"
    sshd, worker = stored_events(door_client, source="sshd"), stored_events(door_client, source="worker.service")
    assert len(sshd) == len(worker) == 1
    assert sshd[0]["level"] == "INFO" and sshd[0]["ts"] == 1705314225.123456
    assert sshd[0]["fields"]["_HOSTNAME"] == "web-1" and "__CURSOR" not in sshd[0]["fields"]
    assert worker[0]["level"] == "ERROR" and worker[0]["content"] == TRACE.decode()
    assert worker[0]["template"] == "Unhandled exception in worker <*>"  # mined from the first line
    [dead] = door_client.app.state.service.store.dead_letters()
    assert "without a MESSAGE" in dead["error"] and dead["raw"].startswith(b"__CURSOR=s=1;i=3")
    assert door_client.post("/upload", content=body, headers=headers).status_code == 202  # a retried upload
    assert len(stored_events(door_client, source="sshd")) == 1  # ... is stored once (keys hash __CURSOR)


def test_upload_refuses_a_broken_body_whole_and_a_wrong_content_type(door_client):
    broken = export(SSHD) + b"MESSAGE\n\xff\x00\x00\x00\x00\x00\x00\x00short\n"
    r = door_client.post("/upload", content=broken, headers={"Content-Type": "application/vnd.fdo.journal"})
    assert r.status_code == 400 and "runs past its size" in r.text
    assert stored_events(door_client) == []  # nothing of it stored
    r = door_client.post("/upload", content=export(SSHD), headers={"Content-Type": "text/plain"})
    assert r.status_code == 415 and "application/vnd.fdo.journal" in r.text


def test_logai_parse_reads_an_export_file(tmp_path):
    path = tmp_path / "host.export"
    path.write_bytes(export(SSHD, APP, SSHD | {"MESSAGE": "Accepted publickey for bob from 10.0.0.6 port 1"}))
    result = subprocess.run([LOGAI, "parse", str(path)], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    events = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert [e["level"] for e in events] == ["INFO", "ERROR", "INFO"]
    assert events[0]["template"] == events[2]["template"] == "Accepted publickey for <*> from <*> port <*>"
    assert events[1]["content"] == TRACE.decode() and events[1]["fields"]["_SYSTEMD_UNIT"] == "worker.service"
    assert b"journal-export" in result.stderr
    path.write_bytes(export(SSHD) + b"MESSAGE\n")
    result = subprocess.run([LOGAI, "parse", "--format", "journal-export", str(path)], capture_output=True,
                            timeout=120)
    assert result.returncode == 1 and b"binary field MESSAGE at byte" in result.stderr


@pytest.mark.skipif(not (shutil.which(UPLOAD) and shutil.which(REMOTE)),
                    reason="systemd-journal-remote is not installed (make peers installs it)")
def test_systemd_journal_upload_ships_a_journal_to_logai(tmp_path):
    """The real shipper: systemd-journal-remote writes a journal file from export text, and
    systemd-journal-upload sends it to `logai serve` as it would to a journal-remote server."""
    journal = tmp_path / "remote.journal"
    entries = ({name: value for name, value in entry.items() if name != "__CURSOR"} for entry in (SSHD, APP))
    made = subprocess.run([REMOTE, f"--output={journal}", "-"], input=export(*entries), capture_output=True,
                          timeout=60)
    assert made.returncode == 0, made.stderr
    server = ServeProcess(tmp_path / "serve", "route:\n  llm: false\n")
    try:
        for _ in range(2):  # the second upload starts again from the top: nothing is stored twice
            sent = subprocess.run([UPLOAD, "--follow=no", f"--file={journal}", f"--url={server.base}"],
                                  capture_output=True, timeout=60)
            assert sent.returncode == 0, sent.stderr
        events = httpx.get(f"{server.base}/v1/events", timeout=10).json()["events"]
        assert sorted(e["source"] for e in events) == ["sshd", "worker.service"]
        worker = next(e for e in events if e["source"] == "worker.service")
        assert worker["content"] == TRACE.decode() and worker["level"] == "ERROR"
        assert worker["fields"]["_SYSTEMD_UNIT"] == "worker.service"
    finally:
        server.stop()


def test_serve_ingest_of_an_export_file_is_detected_and_stored_once(tmp_path):
    from logai.bootstrap import build_service
    from logai.config import Settings
    from logai.doors.files import ingest_file

    path = tmp_path / "host.export"
    path.write_bytes(export(SSHD, APP, {"SYSLOG_IDENTIFIER": "cron"}) + b"MESSAGE\n\x09")  # broken at the end
    service = build_service(Settings(data_dir=tmp_path / "data"))
    try:
        assert ingest_file(service, path, None) == 2
        assert ingest_file(service, path, None) == 0  # keys hash __CURSOR
        assert sorted(e.source for e in service.store.iter_events()) == ["sshd", "worker.service"]
        assert "without a MESSAGE" in service.store.dead_letters()[0]["error"]
    finally:
        service.close()
