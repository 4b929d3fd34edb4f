"""logai as deployed: the console and API (`logai serve`) and the Kafka workers (`logai daemon`) are separate
processes on one store and one configuration. What the person paged does in the console (acknowledge, mark a
verdict normal) reaches the daemon that tracks the incident and judges the lines; a serve restarted meanwhile
leaves the daemon's incident alone; the on-call webhook hears of each step once. Real processes, a real
Kafka-protocol broker (Tansu), one SQLite store, the shipped router on the packaged MiniLM, Debian's Chromium."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from kafka import KafkaProducer

from pipelines.alert_peers import WebhookSink
from pipelines.local_services import ServeProcess

LOGAI = str(Path(sys.executable).with_name("logai"))
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TIMEOUT = ("2026-11-24 09:15:{s:02d},491 ERROR [http-nio-8080-exec-2] c.e.payments.CheckoutController - "
           "Unhandled exception for order {order}: java.net.SocketTimeoutException: Read timed out")
SERVED = ("2026-11-24 09:15:{s:02d},120 INFO  [http-nio-8080-exec-{i}] c.e.payments.CheckoutController - "
          "Order {i}0{s} confirmed in 42 ms")
# one configuration for both processes, as a shared configmap is: the same store and the same webhook
COMMON = ("route: {{llm: false, feedback_sync_s: 1}}\nstore: {{url: 'sqlite:///{db}'}}\n"
          "alerts: {{webhooks: [{{url: '{hook}', name: oncall}}]}}\n")


def produce(bootstrap: str, lines: list[str]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for line in lines:
        producer.send("logs", key=b"payments", value=line.encode())
    producer.flush()
    producer.close()


def wait_for(fetch, done, timeout: float = 120.0, what: str = ""):
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}: last saw {value}"
        time.sleep(0.5)


def test_the_consoles_ack_and_correction_reach_the_daemons_incidents_and_verdicts(kafka_broker, tmp_path):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (make peers installs it)")
    hook = WebhookSink(delay_s=1.5)  # slow, as chat services are: both processes see its deliveries pending
    common = COMMON.format(db=tmp_path / "shared.db", hook=hook.url)
    serve = ServeProcess(tmp_path / "serve", common)
    daemon_config = tmp_path / "daemon.yaml"
    daemon_config.write_text(
        f"data_dir: {tmp_path / 'daemon'}\n{common}"
        f"kafka:\n  bootstrap_servers: ['{kafka_broker.bootstrap}']\n  topics: [logs]\n  group_id: workers\n"
        "  output_topic: null\n  session_timeout_ms: 6000\n  heartbeat_interval_ms: 1000\n"
        "  formats: {payments: log4j}\nlogging: {level: INFO}\n")
    kafka_broker.create_topic("logs", partitions=1)
    first = [SERVED.format(s=s, i=s % 7) for s in range(20)] + [TIMEOUT.format(s=s, order=611776 + s * 7919)
                                                                   for s in range(20, 24)]
    produce(kafka_broker.bootstrap, first)
    log = (tmp_path / "daemon.log").open("wb")
    daemon = subprocess.Popen([LOGAI, "--config", str(daemon_config), "daemon"], stdout=log, stderr=log)
    api = httpx.Client(base_url=serve.base, timeout=30)
    try:
        def analyses(**params) -> list[dict]:
            return api.get("/v1/analyses", params={"limit": 1000, **params}).json()["analyses"]

        judged = wait_for(analyses, lambda rows: len(rows) >= len(first), what="the daemon's verdicts")
        timeouts = [row for row in judged if "Read timed out" in row["provenance"]["log"]]
        assert timeouts and all(row["label"] == "abnormal" for row in timeouts)
        incident = wait_for(lambda: api.get("/v1/incidents").json()["items"], lambda rows: len(rows) == 1,
                            what="the daemon's incident")[0]
        assert incident["state"] == "open"
        # serve restarts (a rolling update): it must leave the daemon's incident to the daemon, which gets its
        # signals (it used to take back every open incident at start, and would resolve this one as quiet)
        serve.stop()
        serve = ServeProcess(tmp_path / "serve", common)
        api.close()
        api = httpx.Client(base_url=serve.base, timeout=30)
        # acknowledged in the console: the daemon's next signal on it keeps the ack (it used to write `open` back)
        acked = api.post(f"/v1/incidents/{incident['id']}/ack", json={"by": "bob"}).json()
        assert acked["state"] == "acknowledged"
        produce(kafka_broker.bootstrap, [TIMEOUT.format(s=30, order=888001)])
        grown = wait_for(lambda: api.get(f"/v1/incidents/{incident['id']}").json(),
                         lambda row: row["count"] > incident["count"], what="the new signal")
        assert (grown["state"], grown["acked_by"]) == ("acknowledged", "bob")
        timeouts = [row for row in analyses() if "Read timed out" in row["provenance"]["log"]]

        # the person paged marks a sample normal on the incident's page, served by `serve`, which tracks none of
        # them: the daemon's tracker clears the page once it has synced, and the console page redraws resolved
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(f"{serve.base}/#/incidents/{incident['id']}")
            with page.expect_response("**/v1/feedback") as answer:
                page.locator("button[data-action=correct][data-label=normal]").first.click()
            assert answer.value.json()["resolved_incidents"] == []
            page.wait_for_selector("span.resolution", timeout=30_000)
            browser.close()
        cleared = api.get(f"/v1/incidents/{incident['id']}").json()
        assert cleared["resolution"] == "every verdict in it corrected to normal by console"
        # ... and judges the next such line as the operator said, without a restart
        produce(kafka_broker.bootstrap, [TIMEOUT.format(s=40, order=999001)])
        later = wait_for(lambda: analyses(), lambda rows: any("999001" in r["provenance"]["log"] for r in rows),
                         what="the daemon's verdict on the new line")
        verdict = next(r for r in later if "999001" in r["provenance"]["log"])
        assert verdict["label"] == "normal" and verdict["provenance"]["path"] == "feedback", verdict
        # the on-call channel heard of each step once, though two processes send to it
        wait_for(lambda: [p["kind"] for p in hook.payloads()], lambda kinds: "resolved" in kinds,
                 what="the webhook's resolved message")
        time.sleep(3)  # room for a second copy of any of them
        kinds = [p["kind"] for p in hook.payloads()]
        deliveries = api.get("/v1/alerts/deliveries").json()
        assert kinds == ["firing", "acknowledged", "resolved"], deliveries
    finally:
        api.close()
        daemon.terminate()
        daemon.wait(60)
        log.close()
        serve.stop()
        hook.stop()
    assert daemon.returncode == 0, (tmp_path / "daemon.log").read_text()[-3000:]
