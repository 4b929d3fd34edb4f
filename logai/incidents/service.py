"""`IncidentService`: abnormal verdicts and anomalies in, incidents stored, summarised and alerted.

Ingest hands each batch's signals to `offer`, which never blocks; a tracker thread groups them
(`IncidentTracker`), stores what changed and queues the notifications; a summary thread has the LLM (or
the template fallback) summarise new and grown incidents; one sender thread per receiver delivers. So a slow
LLM or a dead receiver delays only its own thread, never ingestion.

`logai serve` and the `logai daemon` workers may share a store: each process tracks the incidents its own
signals opened, renewing a lease on them (`LEASE_S`); at start it takes back those a stopped process released,
and any process takes those whose tracker died once the lease has run out.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from logai import metrics
from logai.background import lower_this_thread
from logai.config import AlertsConfig
from logai.detect.signals import Anomaly
from logai.events import Event
from logai.incidents.delivery import AlertmanagerReceiver, Receiver, Sender, WebhookReceiver
from logai.incidents.summary import Summarizer, template_summary
from logai.incidents.traces import trace_facts
from logai.incidents.tracker import Changes, Incident, IncidentTracker, Signal, severity_rank
from logai.route.tasks import ABNORMAL_LABELS, NORMAL_LABELS
from logai.store.incidents import IncidentStore
from logai.timestamps import to_epoch

log = logging.getLogger(__name__)
CRITICAL_LEVELS = frozenset({"FATAL", "CRITICAL", "CRIT", "EMERG", "EMERGENCY", "ALERT", "PANIC", "F"})
SAMPLE_CHARS = 2000  # of an event kept in its incident: a Java stack trace with its `Caused by:`, as a rule
DETECTOR_SEVERITY = {"template_rate": "info"}  # a template's rate moving is worth a look, not a page


def verdict_signals(events: Sequence[Event], verdicts: Sequence[tuple[int, Any]], group_by: Sequence[str],
                    event_ids: Sequence[int | None] | None = None) -> list[Signal]:
    """One signal per event judged abnormal: `verdicts` are the (analysis id, Verdict) pairs of `events`."""
    out = []
    now = time.time()
    for i, (event, (analysis_id, verdict)) in enumerate(zip(events, verdicts, strict=True)):
        if verdict.label not in ABNORMAL_LABELS:
            continue
        level = (event.level or "").upper()
        text = event.content or event.raw
        sample: dict[str, Any] = {
            "line": event.line, "level": event.level, "content": text[:SAMPLE_CHARS], "template_id": event.template_id,
            "analysis_id": analysis_id, "event_id": event_ids[i] if event_ids else None,
            "label": verdict.label, "confidence": verdict.confidence, "path": verdict.path,
            "params": [[p.concept or p.type or "value", p.value[:80]] for p in event.params[:8]]}
        trace = trace_facts(text, (event.fields or {}).get("Logger"))  # read whole: a sample keeps SAMPLE_CHARS
        if trace:
            sample["trace"] = trace
        out.append(Signal(
            ts=to_epoch(event.timestamp) or now, source=event.source, kind="verdict",
            severity="critical" if level in CRITICAL_LEVELS else "warning", template_id=event.template_id,
            template=event.conceptualized or event.template, group=_group(event, group_by), sample=sample,
            input=(verdict.task, verdict.input) if verdict.input else None))
    return out


def anomaly_signals(anomalies: Sequence[Anomaly], ignore: Sequence[str]) -> list[Signal]:
    out = []
    for a in anomalies:
        if a.detector in ignore:
            continue
        evidence = a.evidence
        template_id = evidence.get("template_id")
        template_id = None if template_id in (None, "error") else str(template_id)  # "error": the source's burst
        out.append(Signal(ts=a.ts, source=a.source, kind=a.detector, severity=DETECTOR_SEVERITY.get(a.detector,
                                                                                                       "warning"),
                          template_id=template_id, template=evidence.get("template"),
                          sample={"score": round(a.score, 3), "content": evidence.get("content"),
                                  "evidence": {k: v for k, v in evidence.items()
                                               if k not in ("content", "templates")}}))
    return out


def _group(event: Event, group_by: Sequence[str]) -> tuple[tuple[str, str], ...]:
    fields = event.fields or {}
    return tuple((name, str(fields[name])[:128]) for name in group_by if name in fields)


def _host() -> str:
    """Where this process's pid means something: the host name, and the pid namespace where there are several
    (two containers of one pod share a host name, not their pids)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid").removeprefix("pid:[").removesuffix("]")
    except OSError:  # not Linux
        namespace = ""
    return f"{socket.gethostname()}~{namespace}" if namespace else socket.gethostname()


def _died_here(tracker: str) -> bool:
    """Whether the tracker `tracker` (host:pid:nonce) was a process of this host that is gone: this process
    restarted after a kill -9, say, even as pid 1 of the same container, need not wait for its lease."""
    host, _, rest = tracker.partition(":")
    pid = rest.partition(":")[0]
    if host != _host() or not pid.isdigit():
        return False
    if int(pid) == os.getpid():
        return True  # an earlier process with this pid, since pids of live processes are unique
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # alive, another user's
        return False
    return False


LEASE_S = 60.0  # an incident whose tracking process has not renewed it for this long is taken by another
PENDING = "LLM summary pending"  # the note of a summary shown until the LLM's (or a fallback) replaces it


class IncidentService:
    def __init__(self, config: AlertsConfig, store: IncidentStore, summarizer: Summarizer, public_url: str):
        self.config = config
        self.store = store
        self.summarizer = summarizer
        self.tracker = IncidentTracker(config.gap_s, config.quiet_s, config.related_similarity,
                                       config.max_open_per_source, config.critical_count)
        # this process, as the store knows it: `serve` and every `daemon` on one store each track their own
        self.identity = f"{_host()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._leased_at = time.time()  # when it last renewed its incidents' lease, or looked for orphans
        receivers: list[Receiver] = [WebhookReceiver(hook, public_url) for hook in config.webhooks]
        if config.alertmanager_url:
            receivers.insert(0, AlertmanagerReceiver(config.alertmanager_url, public_url, config.resend_s,
                                                     config.min_severity))
        self.senders = {r.name: Sender(r, store, config) for r in receivers}
        self._lock = threading.Lock()  # the tracker: its thread, the summary thread and `ack`
        self._signals: queue.Queue[list[Signal] | None] = queue.Queue(10_000)
        self._summaries: queue.Queue[int | None] = queue.Queue(1000)
        self._summarized: dict[int, int] = {}  # incident id -> its count when last summarised
        self._resend_at: dict[int, float] = {}  # alerted open incidents -> next Alertmanager re-send
        self._threads: list[threading.Thread] = []
        self._stopping = threading.Event()
        self._adopt(self._leased_at, released=True)  # the incidents of the process that stopped before it

    def _adopt(self, now: float, released: bool) -> None:
        """Track the incidents no live process tracks (`IncidentStore.adopt`), and ask again for the summaries
        the last process did not get to."""
        dead = [other for other in self.store.trackers() if _died_here(other)] if released else []
        adopted = [Incident.from_row(row) for row in self.store.adopt(self.identity, now, LEASE_S, released, dead)]
        self.tracker.restore(adopted)
        for incident in adopted:
            if incident.id is not None and (incident.summary or {}).get("note") == PENDING:
                self._summarized[incident.id] = incident.count
                with contextlib.suppress(queue.Full):
                    self._summaries.put_nowait(incident.id)
            log.info("incident %s: tracked here from now on", incident.id)
        metrics.INCIDENTS_OPEN.set(self.tracker.open_count)

    # -- in -------------------------------------------------------------------------------------------------
    def offer(self, signals: list[Signal]) -> None:
        """Queue a batch's signals; never blocks (a full queue drops them, counted)."""
        if signals:
            try:
                self._signals.put_nowait(signals)
            except queue.Full:
                metrics.INCIDENT_SIGNALS_DROPPED.inc(len(signals))

    def observe(self, signals: list[Signal], now: float | None = None) -> Changes:
        """Group `signals` now, in the caller's thread (the tracker thread; tests)."""
        now = time.time() if now is None else now
        with self._lock:
            changes = self.tracker.observe(signals, now)
            self._apply(changes, now)
        return changes

    def tick(self, now: float | None = None) -> Changes:
        """Adopt acknowledgements made elsewhere, resolve quiet incidents and queue Alertmanager's re-sends."""
        now = time.time() if now is None else now
        self.adopt_acks()
        with self._lock:
            if time.time() - self._leased_at >= LEASE_S / 4:  # this process's lease, and a dead one's orphans
                self._leased_at = time.time()
                self.store.renew(self.identity, self._leased_at)
                self._adopt(self._leased_at, released=False)
            changes = self.tracker.expire(now)
            self._apply(changes, now)
            due = [i for i, at in self._resend_at.items() if at <= now]
            for incident_id in due:
                self._resend_at[incident_id] = now + self.config.resend_s
                self.store.enqueue(incident_id, self._alertmanager(), "update")
        self._wake()
        return changes

    # -- out ------------------------------------------------------------------------------------------------
    def _alertable(self, incident: Incident) -> bool:
        return severity_rank(incident.severity) >= severity_rank(self.config.min_severity)

    def _alertmanager(self) -> list[str]:
        return [name for name, s in self.senders.items() if isinstance(s.receiver, AlertmanagerReceiver)]

    def _webhooks(self) -> list[str]:
        return [name for name, s in self.senders.items() if isinstance(s.receiver, WebhookReceiver)]

    def _apply(self, changes: Changes, now: float) -> None:
        """Store what changed and queue its notifications and summaries (under the lock)."""
        opened = {id(i) for i in changes.opened}
        for incident in changes.touched():
            was_alerted = incident.id in self._resend_at
            if incident.summary is None:  # something to show at once; the LLM's replaces it
                incident.summary, incident.summary_by = template_summary(incident.row(), PENDING), "template"
            incident.id = self.store.save(incident.row(), self.identity)
            if id(incident) in opened:
                metrics.INCIDENTS_OPENED.labels(severity=incident.severity).inc()
                log.info("incident %d opened: %s, %s", incident.id, incident.source, incident.severity)
            if incident.state == "resolved":
                self._resend_at.pop(incident.id, None)
                if was_alerted:
                    self.store.enqueue(incident.id, [*self._alertmanager(), *self._webhooks()], "resolved")
                log.info("incident %d resolved after %d signals", incident.id, incident.count)
                continue
            if self._alertable(incident) and not was_alerted:
                self._resend_at[incident.id] = now + self.config.resend_s
                wait = self.config.summary_wait_s if self.config.llm_summary and self.summarizer.backend else 0
                self.store.enqueue(incident.id, self._alertmanager(), "firing")
                self.store.enqueue(incident.id, self._webhooks(), "firing", not_before=now + wait)
            elif was_alerted and incident in changes.escalated:
                self.store.enqueue(incident.id, [*self._alertmanager(), *self._webhooks()], "escalated")
            last = self._summarized.get(incident.id)
            if last is None or incident.count >= last * self.config.resummarize_growth:
                self._summarized[incident.id] = incident.count
                with contextlib.suppress(queue.Full):  # full: it keeps its current summary
                    self._summaries.put_nowait(incident.id)
        metrics.INCIDENTS_OPEN.set(self.tracker.open_count)
        self._wake()

    def _wake(self) -> None:
        for sender in self.senders.values():
            sender.wake.set()

    def ack(self, incident_id: int, by: str) -> dict[str, Any] | None:
        """Acknowledge an open incident (None if there is none by that id); webhooks are told."""
        with self._lock:
            incident = self.tracker.find(incident_id)
            if incident is not None:
                if incident.state == "open":
                    self._acknowledge(incident, time.time(), by)
                return self.store.get(incident_id)
        row = self.store.get(incident_id)
        if row is not None and row["state"] == "open":  # tracked by another process, which tells the receivers
            row.update(state="acknowledged", acked_at=time.time(), acked_by=by)  # when it adopts the ack
            self.store.save(row)
        return row

    def _acknowledge(self, incident: Incident, at: float, by: str) -> None:
        incident.state, incident.acked_at, incident.acked_by = "acknowledged", at, by
        assert incident.id is not None  # tracked incidents are saved as they open
        self.store.save(incident.row(), self.identity)
        self.store.enqueue(incident.id, self._webhooks(), "acknowledged")
        self.store.enqueue(incident.id, self._alertmanager(), "update")
        self._wake()

    def adopt_acks(self) -> list[int]:
        """Take over acknowledgements another process stored for incidents tracked here (the console's `logai
        serve` acknowledging a daemon's incident): their state follows, and the receivers are told from here.
        Returns the ids adopted."""
        with self._lock:
            tracked = {i.id: i for i in self.tracker.active_incidents() if i.id is not None and i.state == "open"}
            acks = self.store.acks(list(tracked)) if tracked else {}
            for incident_id, (at, by) in acks.items():
                self._acknowledge(tracked[incident_id], at or time.time(), by or "")
        return list(acks)

    def corrected(self, correction: dict[str, Any], judged_normal: Callable[[str, str], bool],
                  now: float | None = None) -> list[int]:
        """An operator's correction (`/v1/feedback`) to a normal label: an active incident made only of abnormal
        verdicts, each of whose templates' inputs is now judged normal (`judged_normal(task, input)`: the router
        after the correction, which answers for the corrected input and, through the re-fit head, its near
        duplicates, such as the same failure for another user), was a false alarm. It resolves at once, saying
        who cleared it, and Alertmanager and webhooks are told. Returns the ids resolved. Incidents with
        detector signals stay: a correction is about verdicts."""
        if correction.get("new_label") not in NORMAL_LABELS:
            return []
        self.adopt_acks()  # the receivers hear of an ack made elsewhere before they hear of the resolution
        who = correction.get("who") or "an operator"
        resolution = f"every verdict in it corrected to {correction['new_label']} by {who}"
        now = time.time() if now is None else now
        resolved = []
        with self._lock:
            for incident in self.tracker.active_incidents():
                entries = incident.templates.values()
                if set(incident.signals) == {"verdict"} and entries and all(  # "other" has no input
                        entry.get("input") and judged_normal(*entry["input"]) for entry in entries):
                    self._apply(self.tracker.resolve(incident, now, resolution[:256]), now)
                    resolved.append(incident.id)
        for incident_id in resolved:
            log.info("incident %s resolved: %s", incident_id, resolution)
        return [i for i in resolved if i is not None]

    # -- threads --------------------------------------------------------------------------------------------
    def start(self) -> IncidentService:
        self._threads = [threading.Thread(target=self._track_loop, name="incidents", daemon=True),
                         threading.Thread(target=self._summary_loop, name="incident-summaries", daemon=True)]
        for thread in self._threads:
            thread.start()
        for sender in self.senders.values():
            sender.start()
        return self

    def _track_loop(self) -> None:
        last_tick = 0.0
        while True:
            try:
                batch = self._signals.get(timeout=1.0)
            except queue.Empty:
                batch = []
            if batch is None:
                return
            try:
                if batch:
                    self.observe(batch)
                if time.time() - last_tick >= 1.0:
                    last_tick = time.time()
                    self.tick()
            except Exception:  # the store unreachable for a moment: these signals are lost, the thread is not
                log.exception("incident tracking failed for %d signals", len(batch))

    def _summary_loop(self) -> None:
        lower_this_thread()  # the LLM generates after ingestion and the API, not beside them
        while True:
            incident_id = self._summaries.get()
            if incident_id is None or self._stopping.is_set():
                return
            try:
                self._summarize(incident_id)
            except Exception:
                log.exception("summarising incident %d failed", incident_id)

    def _summarize(self, incident_id: int) -> None:
        row = self.store.get(incident_id)
        if row is None:
            return
        summary, by = self.summarizer.summarize(row)
        if self._stopping.is_set():  # cancelled by the stop: the pending summary stays, queued again at start
            return
        metrics.INCIDENT_SUMMARIES.labels(by=by).inc()
        with self._lock:
            incident = self.tracker.find(incident_id)
            if incident is not None:
                incident.summary, incident.summary_by = summary, by
                self.store.save(incident.row(), self.identity)
            else:
                row = self.store.get(incident_id) or row
                row.update(summary=summary, summary_by=by)
                self.store.save(row)
            if incident_id in self._resend_at:
                self.store.enqueue(incident_id, self._alertmanager(), "update")
        for name in self._webhooks():
            self.store.hasten(incident_id, name)
        self._wake()

    def stop(self, timeout: float = 10.0, summary_timeout: float = 1.0) -> None:
        """Stop the threads. A summary in hand is dropped (the LLM was cancelled; one still loading the model
        cannot be, and is not waited for): the incident keeps its pending summary and the next start asks
        again. Pending deliveries stay in the log for next time."""
        self._stopping.set()
        self._signals.put(None)
        with contextlib.suppress(queue.Full):
            self._summaries.put_nowait(None)
        for sender in self.senders.values():
            sender.halt.set()
            sender.wake.set()
        for thread in [*self._threads, *self.senders.values()]:
            if thread.is_alive():
                thread.join(summary_timeout if thread.name == "incident-summaries" else timeout)
        try:  # the next process to start (this one restarted, in a rolling update) takes them back at once
            self.store.release(self.identity, time.time())
        except Exception as exc:  # the store down: they are taken back when the lease runs out instead
            log.warning("could not hand back this process's incidents: %s", exc)
