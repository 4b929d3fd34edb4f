"""`logai parse` through the real console script, as users and other tools call it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.conftest import EXAMPLE, EXAMPLE_RECORDS

LOGAI = str(Path(sys.executable).with_name("logai"))

HDFS_LINES = [
    "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 for block blk_38865 terminating",
    "081109 203807 222 INFO dfs.DataNode$PacketResponder: PacketResponder 0 for block blk_-69522 terminating",
    "081109 204005 35 INFO dfs.FSNamesystem: BLOCK* NameSystem.addStoredBlock: blockMap updated: "
    "10.251.73.220:50010 is added to blk_71283 size 67108864",
]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([LOGAI, *args], input=stdin, capture_output=True, timeout=120)


def events(stdout: bytes) -> list[dict]:
    return [orjson.loads(line) for line in stdout.splitlines()]


@pytest.mark.parametrize("command", [[], ["parse"], ["formats"], ["templates"]])
def test_help_on_every_command(command):
    result = run(*command, "--help")
    assert result.returncode == 0 and b"Usage:" in result.stdout


def test_output_contract(tmp_path):
    log = tmp_path / "hdfs.log"
    log.write_text("\n".join(HDFS_LINES) + "\n")
    result = run("parse", "--format", "HDFS", str(log))
    assert result.returncode == 0, result.stderr
    out = events(result.stdout)
    assert [e["line"] for e in out] == [1, 2, 3]
    for event in out:
        assert {"line", "template_id", "template", "params", "pairs", "fields"} <= set(event)
        for p in event["params"]:  # where a concept came from is said: stated by the line, or from the KB
            assert {"value", "type", "concept"} <= set(p) <= {"value", "type", "concept", "origin", "taught_by"}
            assert (p["concept"] is None) == ("origin" not in p)
            assert p.get("origin") in (None, "stated", "kb") and ("taught_by" in p) <= (p.get("origin") == "kb")
        assert event["fields"]["Level"] == "INFO"
    assert out[1]["template"] == "PacketResponder <*> for block <*> terminating"
    assert out[2]["params"][0]["value"] == "10.251.73.220"


def test_stdin_and_out_file(tmp_path):
    target = tmp_path / "events.jsonl"
    result = run("parse", "--format", "HDFS", "-", "--out", str(target), stdin="\n".join(HDFS_LINES).encode())
    assert result.returncode == 0, result.stderr
    assert [e["source"] for e in events(target.read_bytes())] == ["stdin"] * 3


def test_two_processes_give_the_same_ids():
    first = events(run("parse", "--no-progress", str(EXAMPLE)).stdout)
    second = events(run("parse", "--no-progress", str(EXAMPLE)).stdout)
    assert len(first) == EXAMPLE_RECORDS
    assert [e["template_id"] for e in first] == [e["template_id"] for e in second]


def test_state_file_keeps_ids_across_runs(tmp_path):
    state = tmp_path / "state.json"
    first = events(run("parse", "--state", str(state), str(EXAMPLE)).stdout)
    again = events(run("parse", "--state", str(state), str(EXAMPLE)).stdout)
    # after a reload the templates are already general: every line maps to a final template id
    final_ids = {e["template_id"] for e in again}
    assert final_ids <= {e["template_id"] for e in first} | final_ids
    assert len(final_ids) <= len({e["template_id"] for e in first})
    assert orjson.loads(state.read_bytes())["kind"] == "logai-parser-state"


def test_unknown_format_is_a_clear_error(tmp_path):
    result = run("parse", "--format", "nope", str(EXAMPLE))
    assert result.returncode != 0
    assert b"unknown log format 'nope'" in result.stderr and b"HDFS" in result.stderr


def test_missing_file_is_a_clear_error():
    result = run("parse", "/no/such/file.log")
    assert result.returncode != 0 and b"no such file" in result.stderr


def test_broken_config_is_a_clear_error(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("parsing:\n  sim_th: 7\n")
    result = run("--config", str(config), "parse", str(EXAMPLE))
    assert result.returncode != 0 and b"parsing.sim_th" in result.stderr


def test_progress_bar_goes_to_stderr(tmp_path):
    result = run("parse", "--progress", str(EXAMPLE), "--out", str(tmp_path / "o.jsonl"))
    assert result.returncode == 0 and b"payments-api.log [log4j]: 100%" in result.stderr
    result = run("analyze", "--no-llm", "--progress", "--input", str(EXAMPLE))
    assert result.returncode == 0 and b"payments-api.log [log4j]: 100%" in result.stderr
    assert result.stdout.count(b"\n") == 400 and b"logai analyze: 400 verdicts" in result.stderr


def test_sigterm_still_saves_state(tmp_path):
    import signal
    import time

    state = tmp_path / "state.json"
    proc = subprocess.Popen([LOGAI, "parse", "--format", "HDFS", "--state", str(state), "-"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stderr is not None
    started = time.monotonic()
    while b"parsing -" not in proc.stderr.readline():  # logged once the SIGTERM handler is in place
        assert time.monotonic() - started < 60, "logai parse did not start"
    proc.stdin.write(("\n".join(HDFS_LINES) + "\n").encode())
    proc.stdin.flush()
    proc.send_signal(signal.SIGTERM)  # stop it mid-stream, as a service manager would
    proc.wait(timeout=30)
    assert state.exists(), proc.stderr.read()
    assert "stdin" in orjson.loads(state.read_bytes())["sources"]


def test_templates_lists_final_forms_by_count(tmp_path):
    state = tmp_path / "state.json"
    assert run("parse", "--state", str(state), "--out", str(tmp_path / "e.jsonl"), str(EXAMPLE)).returncode == 0
    result = run("templates", "--state", str(state), "--json")
    assert result.returncode == 0, result.stderr
    rows = events(result.stdout)
    counts = [r["count"] for r in rows]
    assert counts == sorted(counts, reverse=True)
    assert sum(counts) == EXAMPLE_RECORDS
    assert any(r["template"].endswith("Created order <*> for user <*> in <*> ms") for r in rows)


def test_templates_on_a_corrupt_state_is_a_clear_error_and_keeps_the_file(tmp_path):
    state = tmp_path / "state.json"
    state.write_text("{broken")
    result = run("templates", "--state", str(state))
    assert result.returncode != 0 and b"no readable parser state" in result.stderr
    assert state.exists()


def test_semantics_in_parse_output_and_switch(tmp_path):
    log = tmp_path / "linux.log"
    auth = ("Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0 euid=0 "
            "tty=NODEVssh ruser= rhost={} user=root\n")
    session = "Jun 14 15:16:02 combo sshd(pam_unix)[19940]: session opened for user {} by (uid=0)\n"
    # two addresses and two users: each becomes a parameter
    log.write_text(auth.format("218.188.2.4") + auth.format("10.0.0.7") + session.format("alice")
                   + session.format("bob"))
    out = events(run("parse", "--format", "Linux", str(log)).stdout)
    assert "<*rhost*>" in out[1]["conceptualized"]
    typed = {p["concept"]: p["type"] for event in (out[1], out[3]) for p in event["params"] if p["concept"]}
    assert typed["rhost"] == "ip" and typed["user"] == "user"
    plain = events(run("parse", "--format", "Linux", "--no-semantics", str(log)).stdout)[1]
    assert plain["conceptualized"] is None and all(p["concept"] is None for p in plain["params"])


def test_final_templates_reach_every_early_line_and_leave_later_ones_as_written(tmp_path):
    """Lines before a template's last merged use are rewritten; the rest are copied as spooled (the same bytes as
    --streaming). A message quoting `"template_id":"..."` is not mistaken for its event's own id."""
    log = tmp_path / "mixed.log"
    rows = [f"2024-01-01 10:00:0{i} INFO user {u} logged in from gate 4" for i, u in enumerate(["ann", "ann", "bo"])]
    rows += [f'2024-01-01 10:00:1{i} INFO payload {{"template_id":"T1"}} stored' for i in range(3)]
    rows += [f"2024-01-01 10:00:2{i} INFO user {u} logged in from gate 5" for i, u in enumerate(["cy", "di"])]
    log.write_text("\n".join(rows) + "\n")
    final = run("parse", str(log)).stdout.splitlines()
    streamed = run("parse", "--streaming", str(log)).stdout.splitlines()
    assert len(final) == len(streamed) == len(rows)
    users = [orjson.loads(final[i]) for i in (0, 1, 2, 6, 7)]
    assert {e["template"] for e in users} == {"user <*> logged in from gate <*>"}
    assert orjson.loads(streamed[0])["template"] != users[0]["template"]
    assert final[3:] == streamed[3:]  # nothing after the last stale line differs from what was written


def test_a_file_gets_final_templates_and_streams_keep_them_as_they_stood(tmp_path):
    """The first lines of a file are read before their template generalises: the file's output gives them the
    final template (id, text and parameters); stdin, and --streaming, keep the template each line got then."""
    log = tmp_path / "users.log"
    users = ["alice", "alice", "bob", "carol", "dave"]
    log.write_text("".join(f"2024-01-01 10:00:0{i} INFO user {u} logged in from gate 4\n" for i, u in enumerate(users)))
    final = [orjson.loads(row) for row in run("parse", str(log)).stdout.splitlines()]
    assert {e["template"] for e in final} == {"user <*> logged in from gate <*>"}
    assert len({e["template_id"] for e in final}) == 1
    assert [e["params"][0]["value"] for e in final] == users
    streamed = [orjson.loads(row) for row in run("parse", "--streaming", str(log)).stdout.splitlines()]
    piped = [orjson.loads(row) for row in run("parse", "-", stdin=log.read_bytes()).stdout.splitlines()]
    for events in (streamed, piped):
        assert events[0]["template"] == "user alice logged in from gate <*>"  # as it stood at line 1
        assert events[-1]["template"] == "user <*> logged in from gate <*>"
