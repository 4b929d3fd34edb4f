"""The store's tables (SQLAlchemy Core). Changes to them go through `migrations.py`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.engine import CursorResult

metadata = MetaData()

meta = Table("logai_meta", metadata, Column("key", String(64), primary_key=True), Column("value", Text))

events = Table(
    "events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    # what makes a write idempotent: "source|partition|offset" from Kafka, "source|request|line" from HTTP
    Column("ingest_key", String(512), nullable=False, unique=True),
    Column("source", String(256), nullable=False),
    Column("line", BigInteger, nullable=False),
    Column("ts", Float, nullable=False),  # event time, Unix seconds UTC; the ingest time when the line had none
    Column("ingested_at", Float, nullable=False),
    Column("level", String(16)),
    Column("template_id", String(32)),
    Column("template", Text),
    Column("conceptualized", Text),
    Column("content", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("fields", JSON, nullable=False),
    Column("params", JSON, nullable=False),
    Column("flags", JSON, nullable=False),
)
# Queries return the newest events first, ordered by (ts, id): each filter has an index that yields rows in
# that order, so a page costs `limit` index steps, not a sort of every match.
Index("ix_events_ts", events.c.ts, events.c.id)
Index("ix_events_source_ts", events.c.source, events.c.ts, events.c.id)
Index("ix_events_template_ts", events.c.template_id, events.c.ts, events.c.id)

event_params = Table(
    "event_params",
    metadata,
    Column("event_id", BigInteger, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("value", String(512), nullable=False),
    Column("type", String(32)),
    Column("concept", String(128)),
)
# value first: serves `value=` and `value= & concept=` lookups with one index (a second one cost more at
# ingest than it saved in queries)
Index("ix_params_value_concept", event_params.c.value, event_params.c.concept)

templates = Table(
    "templates",
    metadata,
    Column("template_id", String(32), primary_key=True),
    Column("source", String(256), nullable=False),
    Column("template", Text, nullable=False),
    Column("count", BigInteger, nullable=False),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    # set when the template generalised into another (the miner's `merged_into`), always to the one that
    # stands for it now: such a template is counted under that one and not listed
    Column("merged_into", String(32)),
)
Index("ix_templates_source", templates.c.source)
# the templates each one replaced, whose lines it counts: looked up for every template listed (without it, a list
# of 8,000 templates took 3.2 s, growing with the square of their number)
Index("ix_templates_merged_into", templates.c.merged_into)

# Events stored per level, kept with every write and every retention delete: the overview's counts without a
# scan of the events (at 1M events the GROUP BY level alone took 340 ms; it grows with the store)
level_counts = Table(
    "level_counts",
    metadata,
    Column("level", String(16), primary_key=True),  # '' for events without a level
    Column("count", BigInteger, nullable=False),
)

template_counts = Table(
    "template_counts",
    metadata,
    Column("template_id", String(32), primary_key=True),
    Column("bucket", BigInteger, primary_key=True),  # start of the time bucket, Unix seconds
    Column("count", BigInteger, nullable=False),
)
# the overview's timeline, what changed, and retention read a range of buckets of every template: a row per
# template and minute grows with the store's age, and without this each of them scanned all of it
Index("ix_template_counts_bucket", template_counts.c.bucket)

anomalies = Table(
    "anomalies",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("ts", Float, nullable=False),
    Column("source", String(256), nullable=False),
    Column("detector", String(64), nullable=False),
    Column("score", Float, nullable=False),
    Column("threshold", Float),
    Column("evidence", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
)
Index("ix_anomalies_ts", anomalies.c.ts)

analyses = Table(
    "analyses",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", BigInteger),
    Column("task", String(64), nullable=False),
    Column("label", String(128), nullable=False),
    Column("model", String(128), nullable=False),
    Column("confidence", Float),
    Column("provenance", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
)
Index("ix_analyses_event", analyses.c.event_id)
Index("ix_analyses_label", analyses.c.label, analyses.c.id)  # abnormal verdicts, newest first

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("source", String(256), nullable=False),
    Column("ingest_key", String(512)),
    Column("raw", LargeBinary, nullable=False),
    Column("error", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

# Client idempotency keys (`Idempotency-Key`) and the sha256 of what they first came with: a key reused with
# different content is refused (409) instead of silently storing nothing.
requests = Table(
    "requests",
    metadata,
    Column("request_id", String(64), primary_key=True),  # sha256 of the door and the client's key
    Column("body_sha256", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
)

# Operators' corrections (`/v1/feedback`): the audit trail (who, when, the label before and after) and what the
# router re-learns from; an undone correction keeps its row with `undone_at` set.
feedback = Table(
    "feedback",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("task", String(64), nullable=False),
    Column("source", String(256), nullable=False),
    Column("input", Text, nullable=False),  # what the small model reads (the key its verdicts are cached by)
    Column("log", Text, nullable=False),
    Column("template_id", String(64)),
    Column("old_label", String(128)),
    Column("new_label", String(128), nullable=False),
    Column("verdict_path", String(16)),  # what gave the corrected verdict: llm, slm, ... (none: not known)
    Column("reason", Text, nullable=False),
    Column("who", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("undone_at", Float),
    Column("undone_by", String(128)),
)
Index("ix_feedback_task", feedback.c.task)

# Incidents: anomalies and abnormal verdicts of one source (and group) grouped in time (`logai.incidents`).
# Event times (start_ts, end_ts) say when it happened; wall-clock times (opened_at, updated_at) drive the
# quiet period that resolves it, so a replay of old logs neither resolves at once nor never.
incidents = Table(
    "incidents",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("source", String(256), nullable=False),
    Column("group_labels", JSON, nullable=False),  # the `alerts.group_by` fields' values
    Column("state", String(16), nullable=False),  # open, acknowledged, resolved
    Column("severity", String(16), nullable=False),  # info, warning, critical
    Column("start_ts", Float, nullable=False),
    Column("end_ts", Float, nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("resolved_at", Float),
    Column("resolution", String(256)),  # why: quiet for a while, or its verdicts corrected to normal (by whom)
    Column("acked_at", Float),
    Column("acked_by", String(128)),
    Column("count", BigInteger, nullable=False),
    Column("first_template_id", String(64)),
    Column("templates", JSON, nullable=False),  # template id -> {"template", "count"}
    Column("signals", JSON, nullable=False),  # detector (or "verdict") -> count
    Column("samples", JSON, nullable=False),  # a few events: line, ts, level, content, event/analysis id
    Column("summary", JSON),  # {"title", "suspected_cause", "affected", "evidence_template_ids", "next_steps"}
    Column("summary_by", String(16)),  # llm or template
    # the process that tracks it (host:pid:nonce) and when it last renewed that (its lease); none: released
    Column("tracker", String(128)),
    Column("tracker_seen", Float),
)
Index("ix_incidents_state", incidents.c.state, incidents.c.id)

# LLM calls made per UTC day (a day number, Unix time // 86400) and use (route, summary), by every process on
# the store: the daily budgets are the deployment's, and survive restarts.
llm_calls = Table(
    "llm_calls",
    metadata,
    Column("day", Integer, primary_key=True),
    Column("use", String(16), primary_key=True),
    Column("count", BigInteger, nullable=False),
)

# The delivery log: one row per notification of an incident to a receiver, retried with backoff until sent
# or, past `alerts.max_attempts`, left as a dead letter (state "dead").
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("incident_id", BigInteger, nullable=False),
    Column("receiver", String(256), nullable=False),
    Column("kind", String(16), nullable=False),  # firing, update, acknowledged, resolved
    Column("state", String(16), nullable=False),  # pending, sent, dead
    Column("attempts", Integer, nullable=False),
    Column("next_at", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("sent_at", Float),
    Column("status_code", Integer),
    Column("last_error", Text),
    Column("payload", JSON),  # what was last sent
)
Index("ix_deliveries_due", alert_deliveries.c.receiver, alert_deliveries.c.state, alert_deliveries.c.id)
Index("ix_deliveries_incident", alert_deliveries.c.incident_id)


def inserted_id(result: CursorResult[Any]) -> int:
    """The id an INSERT of one row was given."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the insert returned no primary key")
    return int(key[0])
