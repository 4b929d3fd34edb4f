"""The syslog listener: util-linux `logger` over TCP (LF and octet-counted framing) and UDP, a real rsyslog
forwarding to logai, TLS, and the RFC 6587 frame splitter on its own."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
import time

import pytest

from logai.bootstrap import build_service
from logai.config import Settings, SyslogConfig
from logai.doors.syslog import FrameSplitter, SyslogServer, _Datagrams
from pipelines.local_services import free_port

needs_logger = pytest.mark.skipif(shutil.which("logger") is None, reason="util-linux logger is not installed")


def logger(server, *args: str) -> None:
    subprocess.run(["logger", "-n", "127.0.0.1", *args], check=True, timeout=30)


# -- framing ---------------------------------------------------------------------------------------------
def test_octet_counting_across_reads():
    splitter = FrameSplitter(1000)
    frame = b"<13>1 2024-05-01T12:00:00Z h app - - - hello world"
    stream = b"%d %s" % (len(frame), frame) * 3
    messages = []
    for i in range(0, len(stream), 7):  # 7-byte reads split lengths and messages
        messages += splitter.feed(stream[i:i + 7]).messages
    assert messages == [frame] * 3


def test_lf_framing_mixed_with_octet_counting_and_a_last_line_without_newline():
    splitter = FrameSplitter(1000)
    out = splitter.feed(b"<13>first\r\n10 <13>second<14>third\n12:00 digits, then no space: a line\n<13>last")
    assert out.messages == [b"<13>first", b"<13>second", b"<14>third", b"12:00 digits, then no space: a line"]
    assert splitter.close().messages == [b"<13>last"]


def test_oversized_frames_are_set_aside_and_the_stream_goes_on():
    splitter = FrameSplitter(500)
    big = b"x" * 2000
    out = splitter.feed(b"%d %s" % (len(big), big) + b"5 <13>a" + b"y" * 900 + b"\n<13>ok\n")
    assert [len(m) for m in out.oversized] == [500, 500] and out.messages == [b"<13>a", b"<13>ok"]


def test_a_frame_cut_by_the_closing_peer_is_set_aside():
    splitter = FrameSplitter(1000)
    assert splitter.feed(b"100 <13>only part of it").messages == []
    closed = splitter.close()
    assert closed.truncated == [b"<13>only part of it"] and closed.messages == []


def test_udp_datagrams_over_the_queue_are_dropped_and_counted():
    import asyncio

    from logai import metrics

    before = metrics.SYSLOG_UDP_DROPPED._value.get()
    protocol = _Datagrams(asyncio.Queue(2))
    for _ in range(5):
        protocol.datagram_received(b"<13>hi", ("127.0.0.1", 9))
    assert metrics.SYSLOG_UDP_DROPPED._value.get() - before == 3


# -- real peers ------------------------------------------------------------------------------------------
@needs_logger
def test_logger_tcp_rfc3164_lf_framing(live_server):
    for n in range(5):
        logger(live_server, "-P", str(live_server.syslog_port), "--tcp", "--rfc3164", "-t", "billing",
               "-p", "user.err", f"invoice {n} failed: card declined")
    found = live_server.wait_events(5, source="billing")
    assert len(found) == 5
    assert all(e["level"] == "ERROR" for e in found)
    assert {e["template"] for e in found} == {"invoice <*> failed: card declined"}
    assert found[0]["fields"]["Host"] and found[0]["fields"]["Pri"] == "11"


@needs_logger
def test_logger_tcp_rfc5424_octet_counted_with_structured_data(live_server):
    logger(live_server, "-P", str(live_server.syslog_port), "--tcp", "--octet-count", "--rfc5424", "-t", "auth",
           "-p", "auth.warning", "--msgid", "LOGIN", "--sd-id", "origin@32473", "--sd-param", 'ip="10.1.2.3"',
           "login failed for user alice")
    [event] = live_server.wait_events(1, source="auth")
    assert event["content"] == "login failed for user alice" and event["level"] == "WARNING"
    assert event["fields"]["MsgId"] == "LOGIN" and event["fields"]["origin@32473.ip"] == "10.1.2.3"


@needs_logger
def test_logger_udp(live_server):
    for n in range(3):
        logger(live_server, "-P", str(live_server.syslog_udp_port), "--udp", "-t", "cron", f"job {n} started")
    found = live_server.wait_events(3, source="cron")
    assert sorted(e["content"] for e in found) == ["job 0 started", "job 1 started", "job 2 started"]


def test_oversized_frame_is_dead_lettered_and_the_connection_goes_on(live_server):
    import httpx

    with socket.create_connection(("127.0.0.1", live_server.syslog_port)) as conn:
        conn.sendall(b"<13>Nov 29 10:00:00 h bigapp: " + b"z" * 70_000 + b"\n")
        conn.sendall(b"<13>Nov 29 10:00:01 h bigapp: after the big one\n")
    [event] = live_server.wait_events(1, source="bigapp")
    assert event["content"] == "after the big one"
    stats = httpx.get(f"{live_server.base}/v1/stats").json()
    assert stats["dead_letters"] >= 1


def test_a_100k_line_stream_over_tcp(live_server):
    lines = b"".join(b"<14>Nov 29 10:00:00 h bulk[7]: request %d took %d ms\n" % (i, i % 300)
                     for i in range(100_000))
    with socket.create_connection(("127.0.0.1", live_server.syslog_port)) as conn:
        conn.sendall(lines)
    found = live_server.wait_events(1, source="bulk", timeout=5)
    assert found
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        templates = httpx.get(f"{live_server.base}/v1/templates", params={"source": "bulk"}).json()["templates"]
        if templates and templates[0]["count"] == 100_000:
            break
        time.sleep(0.5)
    assert templates[0]["count"] == 100_000 and templates[0]["template"] == "request <*> took <*> ms"


def _duplicates(live_server) -> float:
    import httpx

    metrics = httpx.get(f"{live_server.base}/metrics", timeout=10).text
    return float(next(line.split()[1] for line in metrics.splitlines() if line.startswith("logai_duplicates_total ")))


def test_rfc5424_resend_stores_nothing_twice(live_server):
    frame = b"<14>1 2024-05-01T12:00:00.123456Z web-3 relayapp 881 - - cache warmed in 840 ms"
    before = _duplicates(live_server)
    for _ in range(3):  # a relay re-sending after a broken connection
        with socket.create_connection(("127.0.0.1", live_server.syslog_port)) as conn:
            conn.sendall(b"%d %s" % (len(frame), frame))
    deadline = time.monotonic() + 60
    while _duplicates(live_server) < before + 2 and time.monotonic() < deadline:  # all three handled
        time.sleep(0.2)
    assert _duplicates(live_server) == before + 2  # two of them skipped as replays
    assert len(live_server.wait_events(1, source="relayapp")) == 1


@pytest.mark.skipif(shutil.which("rsyslogd") is None, reason="rsyslog is not installed (apt-get install rsyslog)")
def test_rsyslog_forwards_to_logai(live_server, tmp_path):
    """A real rsyslog with a config of the test's own: it takes logger's lines on its TCP port and forwards
    them to logai as RFC 5424, octet-counted."""
    in_port = free_port()
    (tmp_path / "work").mkdir()
    conf = tmp_path / "rsyslog.conf"
    conf.write_text(f"""
global(workDirectory="{tmp_path / 'work'}")
module(load="imtcp")
input(type="imtcp" port="{in_port}" address="127.0.0.1")
*.* action(type="omfwd" target="127.0.0.1" port="{live_server.syslog_port}" protocol="tcp"
           TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")
""")
    proc = subprocess.Popen(["rsyslogd", "-n", "-f", str(conf), "-i", str(tmp_path / "rsyslog.pid")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", in_port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else b""
                assert time.monotonic() < deadline, "rsyslog did not open its port"
                time.sleep(0.2)
        for n in range(10):
            subprocess.run(["logger", "-n", "127.0.0.1", "-P", str(in_port), "--tcp", "-t", "viarsyslog",
                            "-p", "daemon.crit", f"replica {n} lost quorum"], check=True, timeout=30)
        found = live_server.wait_events(10, source="viarsyslog")
        assert len(found) == 10
        assert {e["level"] for e in found} == {"CRITICAL"}
        assert {e["template"] for e in found} == {"replica <*> lost quorum"}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_tls_listener(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)
    service = build_service(Settings(data_dir=tmp_path / "data"))
    server = SyslogServer(service, SyslogConfig(tls_port=0, tls_certfile=str(cert), tls_keyfile=str(key))).start()
    try:
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False
        with socket.create_connection(("127.0.0.1", server.ports["tls"])) as raw, \
                context.wrap_socket(raw, server_hostname="localhost") as conn:
            for n in range(3):
                frame = b"<11>1 2024-05-01T12:00:0%dZ host tlsapp - - - secure message %d" % (n, n)
                conn.sendall(b"%d %s" % (len(frame), frame))
            # an orderly TLS close, as rsyslog's does: closed with the server's TLS 1.3 session tickets unread,
            # the client's kernel answers with a reset, and a reset discards what the server had not read yet
            # (the likely cause of this test storing 1 of 3 frames about one run in three before)
            conn.unwrap()
        deadline = time.monotonic() + 20
        while service.store.stats()["events"] < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert service.store.stats()["events"] == 3
    finally:
        server.stop()
        service.close()


def test_bad_utf8_no_pri_and_empty_connections(live_server):
    socket.create_connection(("127.0.0.1", live_server.syslog_port)).close()  # connects, sends nothing
    with socket.create_connection(("127.0.0.1", live_server.syslog_port)) as conn:
        conn.sendall(b"\n\n<13>Nov 29 10:00:00 h oddapp: caf\xe9 \xff bytes\n")  # empty lines, then Latin-1
        conn.sendall(b"Nov 29 10:00:01 h oddapp: no priority at all\n")  # severity unknown: no level
        conn.sendall(b"100 <13>1 2024-05-01T12:00:00Z h oddapp - - - cut")  # closed inside the frame
    found = {e["content"]: e for e in live_server.wait_events(2, source="oddapp")}
    assert "invalid_utf8" in found["caf\\xe9 \\xff bytes"]["flags"]
    assert found["no priority at all"]["level"] is None
    assert len(found) == 2
    deadline = time.monotonic() + 10
    while True:
        errors = [d["error"] for d in live_server.dead_letters()]
        if any("inside an octet-counted frame" in e for e in errors) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert any("inside an octet-counted frame" in e for e in errors)
