from pathlib import Path

import pytest

from logai.config import ConfigError
from logai.parsing.format_detect import detect_format
from logai.parsing.formats import FormatRegistry, UnknownFormatError, load_format_file
from logai.parsing.headers import header_parser_for

# (format, line, expected content, expected level or None); hand-written lines in each format's shape
SAMPLES = [
    ("HDFS", "081110 101502 3121 WARN dfs.DataNode: Slow BlockReceiver write to mirror took 312ms",
     "Slow BlockReceiver write to mirror took 312ms", "WARNING"),
    ("Hadoop", "2015-10-19 09:12:03,441 INFO [main] org.apache.hadoop.mapred.Task: Task done for attempt_1_2",
     "Task done for attempt_1_2", "INFO"),
    ("Spark", "17/06/10 08:01:02 ERROR storage.BlockManager: Failed to fetch block rdd_4_1",
     "Failed to fetch block rdd_4_1", "ERROR"),
    ("Zookeeper",
     "2015-07-30 11:00:01,002 - WARN  [SendWorker:3:QuorumCnxManager$SendWorker@688] - Send worker leaving",
     "Send worker leaving", "WARNING"),
    ("BGL", "- 1118000001 2005.06.05 R11-M0-N3-C:J02-U01 2005-06-05-11.22.33.123456 R11-M0-N3-C:J02-U01 RAS "
     "KERNEL FATAL data storage interrupt", "data storage interrupt", "CRITICAL"),
    ("HPC", "512301 node-17 node.status state_change.available 1084700000 1 Component State Change: node-17 up",
     "Component State Change: node-17 up", None),
    ("Thunderbird", "- 1131600000 2005.11.10 bn301 Nov 10 03:04:05 bn301/bn301 sshd[9921]: Accepted publickey",
     "Accepted publickey", None),
    ("Windows", "2016-09-29 01:02:03, Info                  CSI    Ending TrustedInstaller finalization.",
     "Ending TrustedInstaller finalization.", "INFO"),
    ("Linux", "Jul  2 04:05:06 combo ftpd[2215]: connection from 10.1.2.3 () at Sat Jul  2 04:05:06 2005",
     "connection from 10.1.2.3 () at Sat Jul  2 04:05:06 2005", None),
    ("Android", "03-18 09:10:11.123  1702  1720 W ActivityManager: Slow operation: 61ms so far",
     "Slow operation: 61ms so far", "WARNING"),
    ("HealthApp", "20171224-08:09:10:111|Step_StandReportReceiver|30002312|REPORT : 7 5 1500 240",
     "REPORT : 7 5 1500 240", None),
    ("Apache", "[Mon Dec 05 07:08:09 2005] [error] mod_jk child workerEnv in error state 7",
     "mod_jk child workerEnv in error state 7", "ERROR"),
    ("Proxifier", "[11.01 09:10:11] firefox.exe *64 - mail.example.org:443 close, 812 bytes sent, lifetime 00:02",
     "mail.example.org:443 close, 812 bytes sent, lifetime 00:02", None),
    ("OpenSSH", "Dec 11 07:08:09 LabSZ sshd[4242]: Invalid user deploy from 192.0.2.44",
     "Invalid user deploy from 192.0.2.44", None),
    ("OpenStack", "nova-compute.log.2017-05-17_00:00:01 2017-05-17 00:00:01.123 2931 INFO nova.compute.manager "
     "[req-1 2 3 - - -] [instance: 1f0b3c52-1111-4222-8333-944455556666] VM Stopped (Lifecycle Event)",
     "[instance: 1f0b3c52-1111-4222-8333-944455556666] VM Stopped (Lifecycle Event)", "INFO"),
    ("Mac", "Jul  2 10:11:12 mbp-dev kernel[0]: AirPort: Link Down on en0. Reason 8 (Disassociated).",
     "AirPort: Link Down on en0. Reason 8 (Disassociated).", None),
    ("syslog-rfc3164", "<34>Oct 11 22:14:15 web01 su[230]: 'su root' failed for deploy on /dev/pts/8",
     "'su root' failed for deploy on /dev/pts/8", "CRITICAL"),
    ("syslog-rfc5424", '<165>1 2024-01-15T22:14:15.003Z web01.example.com billing 1234 ID47 '
     '[meta@32473 iut="3" src="app"] invoice 991 sent', "invoice 991 sent", "NOTICE"),
    ("json", '{"ts":"2024-01-15T10:23:45.123Z","level":"warn","msg":"disk almost full","disk":"sda1","pct":93}',
     "disk almost full", "WARNING"),
    ("logfmt", 'time=2024-01-15T10:23:45Z level=error msg="payment declined" user=alice code=51',
     "payment declined", "ERROR"),
    ("apache-access", '192.0.2.20 - frank [10/Oct/2024:13:55:36 -0700] "GET /img/logo.gif HTTP/1.0" 200 2326 '
     '"http://www.example.com/start.html" "Mozilla/5.0"', "GET /img/logo.gif HTTP/1.0", None),
    ("nginx-access", '203.0.113.9 - - [15/Jan/2024:10:23:45 +0000] "POST /api/v1/orders HTTP/1.1" 201 512 "-" '
     '"curl/8.5.0"', "POST /api/v1/orders HTTP/1.1", None),
    ("apache-error", "[Mon Jan 15 10:23:45.123456 2024] [core:error] [pid 1234:tid 140] [client 10.0.0.5:51234] "
     "AH00037: Symbolic link not allowed: /var/www/x", "AH00037: Symbolic link not allowed: /var/www/x", "ERROR"),
    ("nginx-error", '2024/01/15 10:23:45 [error] 1234#1234: *5678 open() "/srv/favicon.ico" failed (2: No such '
     'file or directory)', 'open() "/srv/favicon.ico" failed (2: No such file or directory)', "ERROR"),
    ("k8s-cri", "2024-01-15T10:23:45.123456789Z stdout F Started worker 3 of 8", "Started worker 3 of 8", None),
    ("generic", "2024-01-15 10:23:45,123 WARN  [main] c.e.App - Cache miss rate 37%",
     "[main] c.e.App - Cache miss rate 37%", "WARNING"),
    ("plain", "ERROR data TLB error interrupt", "ERROR data TLB error interrupt", None),
    ("log4j", "2024-01-15 10:23:45,123 ERROR [http-nio-8080-exec-2] c.e.shop.OrderService - Order 42 failed",
     "Order 42 failed", "ERROR"),
    ("logback", "10:23:45.123 [main] WARN  c.e.App - Slow query took 1200 ms", "Slow query took 1200 ms", "WARNING"),
    ("spring-boot", "2024-01-15T10:23:45.123+01:00  INFO 4242 --- [           main] c.e.demo.DemoApplication"
     "                 : Started DemoApplication in 2.1 seconds", "Started DemoApplication in 2.1 seconds", "INFO"),
    ("python-logging", "2024-01-15 10:23:45,123 - app.db - ERROR - connection refused", "connection refused", "ERROR"),
    ("python-basic", "WARNING:root:disk almost full", "disk almost full", "WARNING"),
    ("go-zap", '2024-01-15T10:23:45.123+0100\tINFO\tserver/main.go:42\tlistening\t{"port": 8080}',
     'listening\t{"port": 8080}', "INFO"),
    ("go-log", "2024/01/15 10:23:45 listening on :8080", "listening on :8080", None),
    ("rails", 'I, [2024-01-15T10:23:45.123456 #4242]  INFO -- : Started GET "/" for 127.0.0.1',
     'Started GET "/" for 127.0.0.1', "INFO"),
    ("journalctl", "2024-01-15T10:23:45+0100 web1 sshd[4242]: Accepted publickey for root",
     "Accepted publickey for root", None),
    ("journald-json", '{"__REALTIME_TIMESTAMP":"1705314225123456","PRIORITY":"3","MESSAGE":"Failed to start nginx"}',
     "Failed to start nginx", "ERROR"),
    ("postgresql", "2024-01-15 10:23:45.123 UTC [4242] FATAL:  password authentication failed for user \"bob\"",
     'password authentication failed for user "bob"', "CRITICAL"),
    ("redis", "4242:M 15 Jan 2024 10:23:45.123 # Server initialized", "Server initialized", "WARNING"),
    ("mysql-error",
     "2024-01-15T10:23:45.123456Z 0 [Warning] [MY-010068] [Server] CA certificate ca.pem is self signed.",
     "CA certificate ca.pem is self signed.", "WARNING"),
]


@pytest.fixture(scope="module")
def registry() -> FormatRegistry:
    return FormatRegistry.load()


def test_every_shipped_format_has_a_sample(registry):
    line_formats = {name for name in registry.names() if registry.get(name).kind != "journal-export"}
    assert {name for name, *_ in SAMPLES} == line_formats  # the export format: tests/test_doors_journal.py


@pytest.mark.parametrize(("name", "line", "content", "level"), SAMPLES, ids=[s[0] for s in SAMPLES])
def test_format_splits_header(registry, name, line, content, level):
    fmt = registry.get(name)
    header = header_parser_for(fmt).split(line)
    assert header is not None, f"{name} did not match its own sample"
    fields, got_content, timestamp, got_level = header
    assert got_content == content
    assert got_level == level
    if fmt.timestamp or fmt.kind in ("json", "logfmt", "generic"):
        assert timestamp is not None and timestamp[:2] in ("19", "20"), timestamp
    if fmt.kind == "regex":
        assert "Content" not in fields and (fields or fmt.log_format == "<Content>")


def test_non_matching_line_returns_none(registry):
    assert header_parser_for(registry.get("HDFS")).split("this is not an HDFS line") is None


def test_lookup_is_case_insensitive(registry):
    assert registry.get("hdfs").name == "HDFS"


def test_unknown_format_lists_known_ones(registry):
    with pytest.raises(UnknownFormatError) as info:
        registry.get("nope")
    message = str(info.value)
    assert "nope" in message and "HDFS" in message and "syslog-rfc5424" in message


def test_broken_format_file_is_a_clear_error(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("mine:\n  log_format: '<Date> no content field'\n")
    with pytest.raises(ConfigError, match="mine"):
        load_format_file(bad)
    bad.write_text("mine: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_format_file(bad)


@pytest.mark.parametrize("name", ["HDFS", "Hadoop", "Spark", "Apache", "json", "logfmt", "k8s-cri", "nginx-error"])
def test_detection_picks_the_format_of_its_samples(registry, name):
    line = next(s[1] for s in SAMPLES if s[0] == name)
    assert detect_format([line] * 5, registry) == name


def test_detection_falls_back_to_generic(registry):
    # `plain` accepts any line too, but a format that reads no header is never the guess
    assert detect_format(["just some words", "and more words"], registry) == "generic"


@pytest.mark.parametrize("name", sorted(__import__("pipelines.format_samples").format_samples.GENERATORS))
def test_common_application_formats_are_detected_and_read(name):
    """Samples written the way log4j, Logback, Spring Boot, Python, Go, Rails, journald, Docker, PostgreSQL,
    Redis and MySQL write them (pipelines/format_samples.py): detected as their format, every header read."""
    from pipelines.format_samples import ALSO_RIGHT, EXPECTED, sample

    registry = FormatRegistry.load()
    lines = sample(name, seed=99, lines=60)
    detected = detect_format(lines, registry)
    assert detected == EXPECTED[name] or detected in ALSO_RIGHT.get(name, ()), detected
    fmt = registry.get(detected)
    if fmt.kind == "journal-export":  # read entry by entry, not line by line (tests/test_doors_journal.py)
        return
    parser = header_parser_for(fmt)
    for line in lines:
        header = parser.split(line)
        assert header is not None, line
        _, content, timestamp, level = header
        assert content and not content.endswith("\n")
        assert timestamp is not None or fmt.timestamp is None, line
        assert level is not None or not fmt.level_field, line


def test_the_example_log_is_log4j_with_thread_and_logger_fields():
    from pathlib import Path

    lines = (Path(__file__).parents[1] / "examples" / "logs" / "payments-api.log").read_text().splitlines()[:200]
    registry = FormatRegistry.load()
    assert detect_format(lines, registry) == "log4j"
    fields, content, _, _ = header_parser_for(registry.get("log4j")).split(lines[0])
    assert {"Thread", "Logger"} <= set(fields) and not content.startswith("[")


def test_time_of_day_alone_is_today_and_epoch_microseconds_are_read():
    from datetime import UTC, datetime

    from logai.timestamps import parse_timestamp

    assert parse_timestamp("10:23:45.123", ("%H:%M:%S.%f",)) == f"{datetime.now(UTC):%Y-%m-%d}T10:23:45.123000"
    assert parse_timestamp("1705314225123456", ("epoch",)) == "2024-01-15T10:23:45.123456+00:00"
