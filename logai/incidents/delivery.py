"""Alert delivery, at least once: each receiver has a sender thread that takes its due deliveries from the
delivery log (`IncidentStore`), renders the incident as it stands, and POSTs it.

- Alertmanager: `POST /api/v2/alerts`, labels `alertname`, `source`, `severity`, `template_id` (and
  `incident_id`, the group labels), annotations `summary` and `description`, `generatorURL` back to the
  incident. While the incident is open its `endsAt` lies `3 x resend_s` ahead and it is re-sent every
  `resend_s`; when it resolves it is sent with `endsAt` = the resolution time.
- Webhooks: JSON with a Slack-compatible `text`, signed with HMAC-SHA256 when a secret is set.
A failed attempt is retried with exponential backoff; past `max_attempts` the delivery is a dead letter. A
slow or dead receiver only delays its own thread: ingestion never waits on it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import orjson

from logai import metrics
from logai.config import AlertsConfig, WebhookConfig
from logai.incidents.tracker import SEVERITIES, severity_rank
from logai.store.incidents import IncidentStore

log = logging.getLogger(__name__)
ALERTNAME = "LogaiIncident"
_LABEL_NAME = re.compile(r"[^a-zA-Z0-9_]")


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def incident_link(public_url: str, incident_id: int) -> str:
    """The incident's page in the console: where a person who follows an alert's link wants to land."""
    return f"{public_url.rstrip('/')}/#/incidents/{incident_id}"


def incident_api(public_url: str, incident_id: int) -> str:
    return f"{public_url.rstrip('/')}/v1/incidents/{incident_id}"


def headline(incident: dict[str, Any]) -> str:
    summary = incident.get("summary") or {}
    return str(summary.get("title") or f"{incident['count']} abnormal signals in {incident['source']}")


class Receiver(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def url(self) -> str: ...

    def render(self, incident: dict[str, Any], kind: str, now: float) -> tuple[Any, bytes, dict[str, str]]:
        """(payload as logged, body, headers) of one notification."""
        ...


@dataclass
class AlertmanagerReceiver:
    base_url: str
    public_url: str
    resend_s: float
    min_severity: str = "warning"
    name: str = "alertmanager"

    @property
    def url(self) -> str:
        return f"{self.base_url.rstrip('/')}/api/v2/alerts"

    def alerts(self, incident: dict[str, Any], now: float) -> list[dict[str, Any]]:
        summary = incident.get("summary") or {}
        labels = {"alertname": ALERTNAME, "source": incident["source"], "severity": incident["severity"],
                  "template_id": incident.get("first_template_id") or "none", "incident_id": str(incident["id"]),
                  **{_LABEL_NAME.sub("_", k): str(v) for k, v in (incident.get("group_labels") or {}).items()}}
        resolved = incident["state"] == "resolved"
        description = (f"{summary.get('suspected_cause') or ''} ({incident['count']} signals from "
                       f"{_iso(incident['start_ts'])} to {_iso(incident['end_ts'])}; state {incident['state']}"
                       f"{'; acknowledged by ' + incident['acked_by'] if incident.get('acked_by') else ''}"
                       f"{'; resolved: ' + incident['resolution'] if resolved and incident.get('resolution') else ''})"
                       ).strip()
        alert = {"labels": labels,
                 "annotations": {"summary": headline(incident), "description": description,
                                 "summary_by": incident.get("summary_by") or "template",
                                 "affected": ", ".join(summary.get("affected") or []),
                                 "next_steps": "; ".join(summary.get("next_steps") or [])},
                 "startsAt": _iso(incident["opened_at"]),
                 "endsAt": _iso(incident["resolved_at"] if resolved else now + 3 * self.resend_s),
                 "generatorURL": incident_link(self.public_url, incident["id"])}
        # severity only rises; the alert under each lower severity it fired with is resolved, not left to expire
        lower = SEVERITIES[severity_rank(self.min_severity):severity_rank(incident["severity"])]
        ended = [{**alert, "labels": {**labels, "severity": s}, "endsAt": _iso(now)} for s in lower]
        return [alert, *ended]

    def render(self, incident: dict[str, Any], kind: str, now: float) -> tuple[Any, bytes, dict[str, str]]:
        alerts = self.alerts(incident, now)
        return alerts, orjson.dumps(alerts), {"Content-Type": "application/json"}


@dataclass
class WebhookReceiver:
    config: WebhookConfig
    public_url: str

    @property
    def url(self) -> str:
        return self.config.url

    @property
    def name(self) -> str:
        return self.config.name or f"webhook:{urlsplit(self.config.url).netloc}"

    def render(self, incident: dict[str, Any], kind: str, now: float) -> tuple[Any, bytes, dict[str, str]]:
        summary = incident.get("summary") or {}
        link = incident_link(self.public_url, incident["id"])
        status = {"firing": "FIRING", "escalated": "ESCALATED", "acknowledged": "ACKNOWLEDGED",
                  "resolved": "RESOLVED"}.get(kind, kind.upper())
        text = (f"[{status}] [{incident['severity']}] {headline(incident)}\n"
                f"{summary.get('suspected_cause') or ''}\n"
                + (f"Affected: {', '.join(summary['affected'])}\n" if summary.get("affected") else "")
                + "".join(f"- {step}\n" for step in summary.get("next_steps") or [])
                + (f"Resolved: {incident['resolution']}\n" if kind == "resolved" and incident.get("resolution") else "")
                + f"{incident['count']} signals in {incident['source']} · {link}")
        public = {k: v for k, v in incident.items() if k not in ("samples",)}
        payload = {"version": "1", "kind": kind, "status": "resolved" if incident["state"] == "resolved" else "firing",
                   "text": text, "link": link, "api": incident_api(self.public_url, incident["id"]),
                   "incident": public}
        body = orjson.dumps(payload)
        headers = {"Content-Type": "application/json"}
        if self.config.secret:
            stamp = str(int(now))
            signature = hmac.new(self.config.secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
            headers |= {"X-Logai-Timestamp": stamp, "X-Logai-Signature": f"sha256={signature}"}
        return payload, body, headers


def verify_signature(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver checks (documented in the README; used by the tests as a receiver would)."""
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={expected}", signature)


class Sender(threading.Thread):
    """Delivers one receiver's due notifications in order, retrying with backoff; `wake` says there is more."""

    def __init__(self, receiver: Receiver, store: IncidentStore, config: AlertsConfig):
        super().__init__(name=f"alerts-{receiver.name}", daemon=True)
        self.receiver, self.store, self.config = receiver, store, config
        self.wake, self.halt = threading.Event(), threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=self.config.timeout_s) as client:
            while not self.halt.is_set():
                try:
                    held: set[int] = set()  # incidents with a delivery not sent in this pass: the rest wait
                    for delivery in self.store.due(self.receiver.name, time.time()):
                        if self.halt.is_set():
                            return
                        if delivery["incident_id"] in held or not self._deliver(client, delivery):
                            held.add(delivery["incident_id"])
                except Exception:  # the store briefly unreachable: the log keeps the deliveries, try again
                    log.exception("alert sender %s: reading the delivery log failed", self.receiver.name)
                self.wake.wait(1.0)
                self.wake.clear()

    def _deliver(self, client: httpx.Client, delivery: dict[str, Any]) -> bool:
        """Send one delivery; False when it was not sent (another process has it, or it failed)."""
        if not self.store.claim(delivery, time.time() + 2 * self.config.timeout_s + 5):
            return False
        incident = self.store.get(delivery["incident_id"])
        if incident is None:
            self.store.failed(delivery["id"], delivery["attempts"] + 1, "incident no longer stored", None, None, None)
            return False
        payload: Any = None
        status_code: int | None = None
        try:
            payload, body, headers = self.receiver.render(incident, delivery["kind"], time.time())
            response = client.post(self.receiver.url, content=body, headers=headers)
            status_code = response.status_code
            response.raise_for_status()
        except Exception as exc:  # refused, unreachable, or not renderable: retried, then a dead letter
            self._retry_or_drop(delivery, f"{type(exc).__name__}: {exc}", payload, status_code)
            return False
        self.store.delivered(delivery["id"], payload, status_code)
        metrics.ALERT_DELIVERIES.labels(receiver=self.receiver.name, outcome="sent").inc()
        metrics.ALERT_DELAY.labels(receiver=self.receiver.name).observe(time.time() - delivery["created_at"])
        return True

    def _retry_or_drop(self, delivery: dict[str, Any], error: str, payload: Any, status_code: int | None) -> None:
        attempts = delivery["attempts"] + 1
        if attempts >= self.config.max_attempts:
            log.error("alert to %s about incident %d dead-lettered after %d attempts: %s", self.receiver.name,
                      delivery["incident_id"], attempts, error)
            metrics.ALERT_DELIVERIES.labels(receiver=self.receiver.name, outcome="dead").inc()
            self.store.failed(delivery["id"], attempts, error, None, payload, status_code)
            return
        delay = min(self.config.max_backoff_s, self.config.backoff_s * 2 ** (attempts - 1))
        log.warning("alert to %s failed (attempt %d, retry in %.0f s): %s", self.receiver.name, attempts, delay, error)
        metrics.ALERT_DELIVERIES.labels(receiver=self.receiver.name, outcome="failed").inc()
        self.store.failed(delivery["id"], attempts, error, time.time() + delay, payload, status_code)
