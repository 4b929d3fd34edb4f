"""Request and response models of the REST API (they are also its OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class IngestResponse(BaseModel):
    received: int = Field(description="lines in the request")
    stored: int = Field(description="events written")
    duplicates: int = Field(description="lines already stored under the same idempotency key")
    dead_letters: int = Field(description="lines that could not be processed (kept in the dead-letter table)")
    template_ids: list[str | None] = Field(description="template id of each line, in order")


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
    anomalies: int
    analyses: int
    dead_letters: int
    events_by_level: dict[str, int]


class Problem(BaseModel):
    detail: str
