"""Request and response models of the REST API (they are also its OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator


class IngestResponse(BaseModel):
    received: int = Field(description="lines in the request")
    stored: int = Field(description="events written")
    duplicates: int = Field(description="lines already stored under the same idempotency key")
    dead_letters: int = Field(description="lines that could not be processed (kept in the dead-letter table)")
    joined: int = Field(0, description="lines that continue the record before them (a stack trace, for a format "
                                       "with multiline: true): stored within that record's event")
    template_ids: list[str | None] = Field(description="template id of each event, in order")


class ParamOut(BaseModel):
    value: str
    type: str | None = None
    concept: str | None = None


class EventOut(BaseModel):
    id: int
    source: str
    line: int
    ts: float = Field(description="event time, Unix seconds UTC (the ingest time when the line had none)")
    ingested_at: float
    level: str | None = None
    template_id: str | None = None
    template: str | None = None
    conceptualized: str | None = None
    content: str
    raw: str
    fields: dict[str, Any]
    params: list[ParamOut]
    flags: list[str]


class EventsPage(BaseModel):
    events: list[EventOut]
    next_cursor: str | None = Field(None, description="pass as `cursor` for the next (older) page")


class TemplateOut(BaseModel):
    template_id: str
    source: str
    template: str
    count: int
    first_seen: float
    last_seen: float
    merged_into: str | None = Field(default=None, description="the template this one generalised into (its lines "
                                    "then count there, and it is no longer listed)")


class BucketCount(BaseModel):
    bucket: int = Field(description="bucket start, Unix seconds")
    count: int


class TemplateDetail(TemplateOut):
    bucket_seconds: int
    series: list[BucketCount]


class TemplatesPage(BaseModel):
    templates: list[TemplateOut]


class AnomalyOut(BaseModel):
    id: int
    ts: float
    source: str
    detector: str
    score: float
    threshold: float | None = None
    evidence: dict[str, Any]
    created_at: float


class AnomaliesPage(BaseModel):
    anomalies: list[AnomalyOut]


class Stats(BaseModel):
    events: int
    templates: int
    anomalies: int = Field(description="what the stream detectors flagged (rate spikes, new templates, ...)")
    analyses: int = Field(description="verdicts stored")
    abnormal_verdicts: int = Field(description="verdicts whose label is `abnormal`")
    dead_letters: int
    events_by_level: dict[str, int]


class Problem(BaseModel):
    detail: str


class AnalyzeRequest(BaseModel):
    lines: list[str] = Field(min_length=1, max_length=1000, description="raw log lines, one verdict each")
    task: str = Field("anomaly", description="a task the router was trained for (see GET /v1/tasks)")
    source: str = Field("analyze", min_length=1, max_length=256, description="stream the lines are parsed as")
    format: str = Field("generic", description="log format of the lines")
    choices: list[str] | None = Field(None, description="restrict the answer to these labels")
    evidence: dict[str, Any] | None = Field(None, description="detector evidence shown to the LLM")


class CaseOut(BaseModel):
    label: str
    similarity: float
    log: str


class VerdictOut(BaseModel):
    analysis_id: int
    task: str
    label: str
    path: str = Field(description="slm (small model alone), llm, or slm_fallback (LLM down or over budget)")
    model: str
    confidence: float = Field(description="the small model's mean MC-dropout probability of its label")
    uncertainty: float
    slm_label: str
    reason: str
    cases: list[CaseOut] = Field(description="error-prone cases the LLM was shown")
    cached: bool
    llm_error: str | None = None
    template_id: str | None = None


class AnalyzeResponse(BaseModel):
    verdicts: list[VerdictOut]


class AnalysisOut(BaseModel):
    id: int
    event_id: int | None = None
    task: str
    label: str
    model: str
    confidence: float | None = None
    provenance: dict[str, Any]
    created_at: float


class AnalysesPage(BaseModel):
    analyses: list[AnalysisOut]


class FeedbackRequest(BaseModel):
    """A correct label for a stored verdict (`analysis_id`, what the console sends) or for a log line."""

    analysis_id: int | None = Field(None, ge=1, le=2**63 - 1, description="the verdict being corrected")
    line: str | None = Field(None, min_length=1, max_length=65536,
                             description="or a log line, parsed as `format` from `source` would be")
    task: str = Field("anomaly", description="with `line`: the task (a verdict carries its own)")
    label: str = Field(min_length=1, max_length=128, description="the correct label")
    reason: str = Field("", max_length=500)
    source: str = Field("feedback", min_length=1, max_length=256)
    format: str = "generic"
    by: str = Field("", max_length=128, description="who corrects (kept in the audit trail)")

    @model_validator(mode="after")
    def _one_target(self) -> FeedbackRequest:
        if (self.analysis_id is None) == (self.line is None):
            raise ValueError("give either analysis_id or line")
        return self


class FeedbackOut(BaseModel):
    """One correction, as the audit trail keeps it."""

    id: int
    task: str
    source: str
    input: str = Field(description="what the small model reads: the corrected key")
    log: str
    template_id: str | None = None
    old_label: str | None = Field(None, description="the verdict before the correction")
    new_label: str
    verdict_path: str | None = Field(None, description="what gave the corrected verdict: llm, slm, slm_fallback, "
                                                       "feedback (none: not known)")
    reason: str
    who: str
    created_at: float | None = None
    undone_at: float | None = None
    undone_by: str | None = None
    version: int | None = Field(None, description="the re-fitted head's version after this change")
    resolved_incidents: list[int] = Field([], description="incidents this correction cleared: every verdict in them "
                                                          "is now judged normal (incidents another process tracks "
                                                          "resolve there, within route.feedback_sync_s)")


class FeedbackPage(BaseModel):
    feedback: list[FeedbackOut]


class IncidentOut(BaseModel):
    id: int
    source: str
    group_labels: dict[str, str] = Field(description="values of the `alerts.group_by` fields")
    state: str = Field(description="open, acknowledged or resolved")
    severity: str = Field(description="info, warning or critical")
    start_ts: float = Field(description="event time of its first signal, Unix seconds")
    end_ts: float = Field(description="event time of its latest signal")
    opened_at: float
    updated_at: float = Field(description="wall-clock time of its latest signal (the quiet period counts from it)")
    resolved_at: float | None = None
    resolution: str | None = Field(None, description="why it resolved: quiet for a while, or its verdicts corrected")
    acked_at: float | None = None
    acked_by: str | None = None
    count: int = Field(description="signals: abnormal verdicts and detector anomalies")
    first_template_id: str | None = None
    templates: dict[str, dict[str, Any]] = Field(description="template id -> {template, count}")
    signals: dict[str, int] = Field(description="signal kind (verdict or a detector) -> count")
    samples: list[dict[str, Any]]
    summary: dict[str, Any] | None = Field(None, description="title, suspected_cause, affected, "
                                                             "evidence_template_ids, next_steps, generated_by")
    summary_by: str | None = Field(None, description="llm, or template when no LLM wrote it")


class IncidentsPage(BaseModel):
    items: list[IncidentOut]
    next_before: int | None = Field(None, description="pass as `before` for the next (older) page")


class DeliveryOut(BaseModel):
    id: int
    incident_id: int
    receiver: str
    kind: str = Field(description="firing, update, escalated, acknowledged or resolved")
    state: str = Field(description="pending, sent, or dead (given up after alerts.max_attempts)")
    attempts: int
    next_at: float
    created_at: float
    sent_at: float | None = None
    status_code: int | None = None
    last_error: str | None = None
    payload: Any = None


class IncidentDetail(IncidentOut):
    deliveries: list[DeliveryOut] = Field(description="its notifications, newest first (the delivery log)")


class AckRequest(BaseModel):
    by: str = Field("", max_length=128, description="who acknowledges (shown in alerts and the audit trail)")
