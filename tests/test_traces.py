"""Stack traces in incidents: the exception, root cause and frame to read, from records the parser joined, in
the summary a person reads when no LLM (or a failing one) wrote it."""

from __future__ import annotations

import re
from pathlib import Path

from logai.config import SemanticsConfig, Settings
from logai.incidents.service import verdict_signals
from logai.incidents.summary import build_messages, template_summary
from logai.incidents.summary_checks import check
from logai.incidents.traces import shared_trace, trace_facts
from logai.incidents.tracker import IncidentTracker
from logai.pipeline import Pipeline
from logai.route.router import Verdict
from tests.test_multiline import JAVA, PYTHON, _parse

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "logs" / "payments-api.log"

CHAINED = """unhandled error in GET /orders/7
Traceback (most recent call last):
  File "/srv/app/repo.py", line 12, in load
    return self.rows[key]
KeyError: 7

The above exception was the direct cause of the following exception:

Traceback (most recent call last):
  File "/srv/app/api.py", line 42, in get
    return repo.load(key)
  File "/usr/lib/python3.11/functools.py", line 388, in wrapper
    return func(*args)
app.errors.NotFound: order 7"""

GO = """http: panic serving 10.0.0.7:51234: runtime error: invalid memory address or nil pointer dereference
panic: runtime error: invalid memory address or nil pointer dereference
[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x6d5a2b]

goroutine 7 [running]:
runtime/debug.Stack()
\t/usr/local/go/src/runtime/debug/stack.go:24 +0x5e
github.com/acme/shop/cart.(*Service).Total(0x0, {0xc000020f60})
\t/src/cart/service.go:88 +0x2b
main.main()
\t/src/main.go:31 +0x1d"""


def test_a_java_record_names_its_exception_root_cause_and_the_loggers_own_frame():
    record = _parse(JAVA, "log4j")[1]  # the joined record, as the parser hands it on
    facts = trace_facts(record.content, record.fields.get("Logger"))
    assert facts == {"exception": "java.net.SocketTimeoutException: Read timed out",
                     "cause": "java.io.IOException: connection reset",
                     "frame": "com.example.Checkout.pay(Checkout.java:88)"}
    # without a logger, the first frame past the JVM's own packages
    assert trace_facts(record.content)["frame"] == "com.example.Checkout.pay(Checkout.java:88)"


def test_a_python_traceback_names_the_last_exception_its_first_cause_and_the_innermost_own_frame():
    record = _parse(PYTHON, "python-logging")[0]
    assert trace_facts(record.content) == {"exception": "KeyError: 7", "frame": "get (/srv/app/api.py:42)"}
    facts = trace_facts(CHAINED)
    assert facts == {"exception": "app.errors.NotFound: order 7", "cause": "KeyError: 7",
                     "frame": "get (/srv/app/api.py:42)"}  # functools (the standard library) is skipped


def test_a_go_panic_names_the_first_frame_past_the_runtime():
    assert trace_facts(GO) == {"exception": "panic: runtime error: invalid memory address or nil pointer dereference",
                               "frame": "github.com/acme/shop/cart.(*Service).Total (/src/cart/service.go:88)"}


def test_lines_without_a_trace_have_no_facts():
    assert trace_facts("Payment pay_1 declined: code=card_expired user=bob") is None
    assert trace_facts("first line of a message\nand a second one, no frames\nException: none here") is None
    assert shared_trace([{"content": "x"}, {"content": "y"}]) is None
    assert shared_trace([{"trace": {"exception": "E: a", "frame": "f(A.java:1)"}}, {"content": "no trace"},
                         {"trace": {"exception": "E: a", "frame": "f(A.java:2)"}}, {"trace": {"exception": "F"}},
                         {"trace": {"exception": "E: a", "frame": "f(A.java:2)"}},
                         {"trace": {"exception": "E: a", "frame": "g (/srv/a.py:3)"}}]) == (
        {"exception": ("E: a", 4), "frame": ("f(A.java:1,2)", 3)}, 5)  # a function counted whatever its line


def test_the_example_logs_timeout_incident_says_where_to_look():
    """The example log through the parser, its ERROR records judged abnormal: the incident of the timeouts
    names the exception, the root cause some traces give, and the application frame they go through, in the
    template summary and in the LLM's prompt; the summary's own checks accept a field that names them."""
    pipeline = Pipeline(Settings(semantics=SemanticsConfig(enabled=False)))
    lines = EXAMPLE.read_bytes().decode().splitlines()
    events = [e for e in _parse(lines, "log4j", pipeline) if e.level == "ERROR"]
    verdicts = [(i, Verdict("anomaly", "abnormal", "slm", 0.99, 0.0, "abnormal", "head")) for i in range(len(events))]
    signals = verdict_signals(events, verdicts, [])
    assert {s.sample["label"] for s in signals} == {"abnormal"}  # what the console's correct-it buttons leave out
    opened = IncidentTracker(gap_s=600).observe(signals, now=0).opened
    timeouts = next(i.row() for i in opened if "SocketTimeoutException" in (i.row()["samples"][0]["content"]))
    summary = template_summary(timeouts, "no LLM configured")
    records = [e.content for e in events if "SocketTimeoutException" in e.content][:len(timeouts["samples"])]
    caused = sum("Caused by: java.io.IOException" in text for text in records)  # past a sample's 500 characters
    lines = sorted(set(re.findall(r"InventoryClient\.java:(\d+)\)", "".join(records))), key=int)
    assert len(records) == 10 and 0 < caused < 10 and len(lines) > 1  # some name a root cause; lines differ
    frame = f"c.e.payments.InventoryClient.reserve(InventoryClient.java:{','.join(lines)})"
    assert ("the stack traces: java.net.SocketTimeoutException: Read timed out (10 of 10 sample traces), caused "
            f"by java.io.IOException: connection reset by peer ({caused} of them), at {frame}"
            ) in summary["suspected_cause"]
    assert summary["next_steps"][0] == f"Read the code at {frame}: 10 of 10 sample stack traces go through it"
    prompt = build_messages(timeouts, [])[1]["content"]
    assert "Stack traces in the sample events: java.net.SocketTimeoutException" in prompt
    cause = "A read timed out in c.e.payments.InventoryClient.reserve at InventoryClient.java:61"
    assert check({"suspected_cause": cause}, timeouts) == {}
    # the declined payments have no trace: their summary has no trace step
    declined = next(i.row() for i in opened if "declined" in i.row()["samples"][0]["content"])
    assert "stack traces" not in template_summary(declined, "")["suspected_cause"]


def test_one_failure_logged_two_ways_is_one_incident_also_after_a_restart():
    """Two messages with few words in common whose stack traces failed at the same place (exception and
    function, whatever the message or line) page once; the same messages failing elsewhere page twice. An
    incident restored from its row still knows where it failed."""
    from logai.incidents.tracker import Incident, Signal

    def failing(ts: float, template_id: str, template: str, frame: str) -> Signal:
        trace = {"exception": "java.net.SocketTimeoutException: Read timed out", "frame": frame}
        return Signal(ts=ts, source="checkout", kind="verdict", severity="warning", template_id=template_id,
                      template=template, sample={"content": template, "trace": trace})

    reserve = "c.e.payments.InventoryClient.reserve(InventoryClient.java:{})"
    first = failing(1000.0, "Ta", "Unhandled exception for order <*>", reserve.format(61))
    second = failing(1010.0, "Tb", "Checkout of cart <*> gave up after <*> retries", reserve.format(62))
    elsewhere = failing(1010.0, "Tb", "Checkout of cart <*> gave up after <*> retries",
                        "c.e.payments.PspClient.charge(PspClient.java:88)")
    tracker = IncidentTracker(gap_s=60)
    (incident,) = tracker.observe([first, second], now=0).opened
    assert set(incident.templates) == {"Ta", "Tb"}
    assert incident.fingerprints == {"java.net.SocketTimeoutException at "
                                     "c.e.payments.InventoryClient.reserve(InventoryClient.java)"}
    assert len(IncidentTracker(gap_s=60).observe([first, elsewhere], now=0).opened) == 2
    restored = IncidentTracker(gap_s=60)
    restored.restore([Incident.from_row({**incident.row(), "id": 1, "templates": {"Ta": incident.templates["Ta"]}})])
    assert restored.observe([second], now=1).opened == []
