"""Alerts reach real peers: Debian's Prometheus Alertmanager (read back from its own /api/v2/alerts) and a
webhook receiver that fails its first deliveries, from a real `logai serve` judging ingested lines with the
shipped router. Also: Alertmanager down when the incident opens, and the Prometheus rules under promtool."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from logai.incidents.delivery import verify_signature
from pipelines.alert_peers import ALERTMANAGER, Alertmanager, WebhookSink
from pipelines.local_services import ServeProcess, wait_for

ROOT = Path(__file__).resolve().parents[1]
SECRET = "s3cret-for-tests"
needs_alertmanager = pytest.mark.skipif(ALERTMANAGER is None, reason="prometheus-alertmanager is not installed "
                                                                      "(make peers installs it)")


def failing_lines(count: int, start: int = 0) -> bytes:
    """What the example service logs when its gateway times out: ERROR lines the shipped router judges
    abnormal, between ordinary ones."""
    lines = []
    for i in range(start, start + count):
        second = (datetime(2026, 11, 30, 10, tzinfo=UTC) + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S")
        lines.append(f"{second}.120 INFO [exec-{i % 8}] "
                     f"c.e.payments.CheckoutController - Order {7000 + i} paid in {i % 90 + 10} ms")
        lines.append(f"{second}.480 ERROR [exec-{i % 8}] "
                     f"c.e.payments.CheckoutController - Unhandled exception for order {7000 + i}: "
                     "java.net.SocketTimeoutException: Read timed out")
    return "\n".join(lines).encode()


def until(check, timeout: float = 60.0, every: float = 0.2):
    found = wait_for(check, timeout, every)
    if not found:
        raise AssertionError(f"not within {timeout:.0f} s")
    return found


def config(alertmanager_url: str, webhook: str | None = None, quiet_s: float = 600) -> str:
    hooks = f"  webhooks:\n    - url: {webhook}\n      name: oncall\n      secret: {SECRET}\n" if webhook else ""
    return (f"route:\n  llm: false\nalerts:\n  alertmanager_url: {alertmanager_url}\n  quiet_s: {quiet_s}\n"
            f"  resend_s: 2\n  backoff_s: 0.2\n  max_backoff_s: 1\n{hooks}")


@needs_alertmanager
def test_an_incident_is_alerted_acknowledged_and_resolved(tmp_path):
    am = Alertmanager(tmp_path / "am").start()
    hook = WebhookSink(fail_first=2)
    server = ServeProcess(tmp_path, config(am.url, hook.url, quiet_s=6))
    try:
        r = httpx.post(f"{server.base}/v1/ingest?source=checkout", content=failing_lines(30), timeout=120)
        assert r.status_code == 200 and r.json()["stored"] == 60
        alerts = until(lambda: am.alerts(alertname="LogaiIncident", source="checkout"))
        incidents = httpx.get(f"{server.base}/v1/incidents", timeout=10).json()["items"]
        assert len(incidents) == 1, "30 failures of one template are one incident, alerted once"
        incident = incidents[0]
        assert incident["signals"]["verdict"] >= 20 and incident["state"] == "open"
        labels = alerts[0]["labels"]
        assert labels["severity"] == incident["severity"] and labels["template_id"] == incident["first_template_id"]
        assert labels["incident_id"] == str(incident["id"])
        assert alerts[0]["generatorURL"].endswith(f"/#/incidents/{incident['id']}")  # the console's page
        assert alerts[0]["annotations"]["summary"] and alerts[0]["annotations"]["description"]
        assert alerts[0]["annotations"]["affected"]  # the source, or what the samples name

        # the webhook refused twice, then took it: signed, with a Slack-style text
        until(lambda: hook.received, timeout=30)
        headers, body = hook.received[0]
        assert verify_signature(SECRET, headers["X-Logai-Timestamp"], body, headers["X-Logai-Signature"])
        first = hook.payloads()[0]
        assert first["kind"] == "firing" and "[FIRING]" in first["text"] and first["incident"]["id"] == incident["id"]
        assert "\nAffected: " in first["text"] and first["link"].endswith(f"/#/incidents/{incident['id']}")
        detail = httpx.get(f"{server.base}/v1/incidents/{incident['id']}", timeout=10).json()
        sent = [d for d in detail["deliveries"] if d["receiver"] == "oncall" and d["state"] == "sent"]
        assert sent and sent[-1]["attempts"] == 3 and "503" in (sent[-1]["last_error"] or "")

        acked = httpx.post(f"{server.base}/v1/incidents/{incident['id']}/ack", json={"by": "alice"}, timeout=10)
        assert acked.status_code == 200 and acked.json()["state"] == "acknowledged"
        until(lambda: any(p["kind"] == "acknowledged" for p in hook.payloads()), timeout=30)

        # quiet for quiet_s: resolved, and Alertmanager no longer lists it as active
        until(lambda: httpx.get(f"{server.base}/v1/incidents/{incident['id']}", timeout=10).json()["state"]
              == "resolved", timeout=60)
        until(lambda: not am.alerts(alertname="LogaiIncident", source="checkout"), timeout=30)
        until(lambda: any(p["kind"] == "resolved" for p in hook.payloads()), timeout=30)
        assert httpx.post(f"{server.base}/v1/incidents/{incident['id']}/ack", timeout=10).status_code == 409
        assert httpx.get(f"{server.base}/v1/incidents/999999", timeout=10).status_code == 404
        assert httpx.get(f"{server.base}/v1/incidents?state=bogus", timeout=10).status_code == 422
        metrics = httpx.get(f"{server.base}/metrics", timeout=10).text
        assert 'logai_alert_deliveries_total{outcome="failed",receiver="oncall"} 2.0' in metrics
    finally:
        server.stop()
        am.stop()
        hook.stop()


@needs_alertmanager
def test_correcting_the_verdicts_of_an_incident_to_normal_resolves_its_alert(tmp_path):
    """The loop back from the person paged: they mark one of the incident's verdicts normal (the console's
    button posts this), every verdict on that input follows, and the incident they were paged for resolves at
    once, in Alertmanager and the webhook, saying who cleared it; the same failures sent again open nothing."""
    am = Alertmanager(tmp_path / "am").start()
    hook = WebhookSink()
    server = ServeProcess(tmp_path, config(am.url, hook.url))  # quiet_s 600: only the correction resolves it
    try:
        httpx.post(f"{server.base}/v1/ingest?source=checkout", content=failing_lines(10), timeout=120)
        until(lambda: am.alerts(alertname="LogaiIncident", source="checkout"))
        incident = httpx.get(f"{server.base}/v1/incidents", timeout=10).json()["items"][0]
        abnormal = httpx.get(f"{server.base}/v1/analyses?label=abnormal&limit=1", timeout=10).json()["analyses"]
        r = httpx.post(f"{server.base}/v1/feedback", json={"analysis_id": abnormal[0]["id"], "label": "normal",
                                                           "reason": "expected while the PSP is in maintenance",
                                                           "by": "alice"}, timeout=30)
        assert r.status_code == 200 and r.json()["resolved_incidents"] == [incident["id"]], r.text
        detail = httpx.get(f"{server.base}/v1/incidents/{incident['id']}", timeout=10).json()
        assert detail["state"] == "resolved"
        assert detail["resolution"] == "every verdict in it corrected to normal by alice"
        until(lambda: not am.alerts(alertname="LogaiIncident", source="checkout"), timeout=30)
        resolved = until(lambda: [p for p in hook.payloads() if p["kind"] == "resolved"], timeout=30)
        assert "Resolved: every verdict in it corrected to normal by alice" in resolved[0]["text"]
        httpx.post(f"{server.base}/v1/ingest?source=checkout", content=failing_lines(10, start=10), timeout=120)
        latest = httpx.get(f"{server.base}/v1/analyses?limit=20", timeout=10).json()["analyses"]
        assert {a["label"] for a in latest} == {"normal"}  # the corrected input answers with alice's label
        assert [i["id"] for i in httpx.get(f"{server.base}/v1/incidents", timeout=10).json()["items"]] == [
            incident["id"]]
    finally:
        server.stop()
        am.stop()
        hook.stop()


@needs_alertmanager
def test_no_alert_is_lost_while_alertmanager_is_down(tmp_path):
    am = Alertmanager(tmp_path / "am")  # its port is chosen, nothing listens on it yet
    server = ServeProcess(tmp_path, config(am.url))
    try:
        assert httpx.post(f"{server.base}/v1/ingest?source=checkout", content=failing_lines(10),
                          timeout=120).status_code == 200
        # any pending delivery retried twice: the newest (listed first) may be a later update with fewer tries
        until(lambda: any(d["attempts"] >= 2 for d in httpx.get(f"{server.base}/v1/alerts/deliveries?state=pending",
                                                                timeout=10).json()))
        am.start()
        alerts = until(lambda: am.alerts(alertname="LogaiIncident", source="checkout"), timeout=60)
        assert len(alerts) == 1
        assert not httpx.get(f"{server.base}/v1/alerts/deliveries?state=dead", timeout=10).json()
    finally:
        server.stop()
        am.stop()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool is not installed (Debian package prometheus)")
def test_prometheus_rules_pass_promtool():
    rules = ROOT / "deploy" / "prometheus" / "logai-rules.yml"
    checked = subprocess.run(["promtool", "check", "rules", str(rules)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(["promtool", "test", "rules", str(rules.with_name("logai-rules.test.yml"))],
                            capture_output=True, text=True, cwd=rules.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr
