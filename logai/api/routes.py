"""The /v1 routes. Each one validates its input and calls the service or the store: no stage logic here."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from logai.api.bodies import media_type, read_decoded_body
from logai.api.deps import ServiceDep, SettingsDep, require_api_key
from logai.api.models import (
    AnomaliesPage,
    EventsPage,
    IngestResponse,
    Problem,
    Stats,
    TemplateDetail,
    TemplatesPage,
)
from logai.api.paging import MAX_OFFSET, bounded_page
from logai.api.workers import in_ingest_thread
from logai.config import redacted
from logai.doors.bodies import BodyLines, RequestKeys, check_count
from logai.doors.json_records import json_records
from logai.doors.keys import digest
from logai.parsing.formats import UnknownFormatError
from logai.parsing.headers import header_parser_for
from logai.service import IngestResult
from logai.store.store import EventQuery, parse_cursor

router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)],
                   responses={401: {"model": Problem}, 422: {"description": "invalid request"}})

JSON_TYPES = ("application/x-ndjson", "application/jsonl", "application/json", "application/jsonlines")


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


@router.post("/ingest", response_model=IngestResponse,
             responses={400: {"model": Problem}, 409: {"model": Problem}, 413: {"model": Problem}},
             summary="Ingest log lines (plain text, JSON lines or a JSON array)")
async def ingest(
    request: Request,
    service: ServiceDep,
    settings: SettingsDep,
    source: Annotated[str, Query(min_length=1, max_length=256, description="stream name")] = "http",
    format: Annotated[str | None, Query(description="log format; default: json for JSON bodies, else "
                                                   "api.default_format")] = None,
    idempotency_key: Annotated[str | None, Query(alias="idempotency_key", max_length=128,
                                                 description="repeat a request with the same key: "
                                                             "nothing is stored twice")] = None,
    idempotency_header: Annotated[str | None, Header(alias="Idempotency-Key", max_length=128,
                                                     description="the same, as a header")] = None,
    source_field: Annotated[str | None, Query(max_length=128, description="JSON bodies: take each record's "
                                                                          "source from this field")] = None,
) -> IngestResponse:
    """One line per log record. `Content-Type: application/x-ndjson` (or jsonl/json) parses each line as a
    JSON log record, and `application/json` also takes an array of records (Fluent Bit's and Vector's HTTP
    outputs). `Content-Encoding: gzip` is undone. A JSON record keeps a multi-line message whole."""
    body = await read_decoded_body(request, settings.api.max_request_bytes)
    content_type = media_type(request)
    is_json = content_type in JSON_TYPES
    # no format given: a known source is read as it was before (a file ingested as log4j stays log4j)
    fmt = format or ("json" if is_json else service.pipeline.format_of(source) or settings.api.default_format)
    try:
        log_format = service.pipeline.registry.get(fmt)
    except UnknownFormatError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    client_key = idempotency_key or idempotency_header
    request_id = digest("http", client_key) if client_key else uuid.uuid4().hex
    if client_key:
        content = digest(source, fmt, source_field or "", content_type, body)
        claimed = await run_in_threadpool(service.store.claim_request, request_id, content)
        if not claimed:
            raise HTTPException(status.HTTP_409_CONFLICT, "this idempotency key was used with a different "
                                                          "body or parameters; use a new key")
    if is_json and log_format.kind == "json" and (source_field or body.lstrip()[:1] == b"["):
        def ingest_json() -> IngestResult:  # decoding a large body is CPU work: off the event loop with the rest
            count, records = json_records(body, parser=header_parser_for(log_format), default_source=source,
                                          source_field=source_field, request_id=request_id)
            check_count(count, settings.api.max_lines_per_request)
            return service.ingest_records(records, format_name=fmt, door="http")

        result = await in_ingest_thread(ingest_json)
    else:
        # counted before the body is split: a body of newlines must not become millions of objects first
        check_count(body.count(b"\n") + (0 if body.endswith(b"\n") or not body else 1),
                    settings.api.max_lines_per_request)
        lines = BodyLines(body)  # lines and keys are made a chunk at a time, as they are ingested
        keys = RequestKeys("http", request_id[:32], len(lines))
        result = await in_ingest_thread(service.ingest, lines, source=source, format_name=fmt, keys=keys,
                                       door="http")
    return IngestResponse(received=result.received, stored=result.stored, duplicates=result.duplicates,
                          dead_letters=result.dead_letters, joined=result.joined, template_ids=result.template_ids)


@router.get("/events", response_model=EventsPage, summary="Search events, newest first")
def events(
    service: ServiceDep,
    settings: SettingsDep,
    start: Annotated[datetime | None, Query(description="ISO 8601; naive times are UTC")] = None,
    end: Annotated[datetime | None, Query(description="ISO 8601, exclusive")] = None,
    source: str | None = None,
    level: Annotated[str | None, Query(description="TRACE, DEBUG, INFO, NOTICE, WARNING, ERROR, CRITICAL")] = None,
    template_id: str | None = None,
    concept: Annotated[str | None, Query(description="events with a parameter of this concept")] = None,
    value: Annotated[str | None, Query(description="events with a parameter of this value")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=512, description="substring of the message")] = None,
    cursor: Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1)] = 100,
    field: Annotated[list[str] | None, Query(max_length=512, description="`name=value`: events whose field equals "
                                             "the value, e.g. `trace_id=5b8efff798038103d269b633813fc60c` "
                                             "(repeatable)")] = None,
) -> EventsPage:
    if limit > settings.api.max_page_size:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"limit must be at most {settings.api.max_page_size}")
    if (first := _epoch(start)) is not None and (last := _epoch(end)) is not None and first >= last:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "start must be before end")
    if cursor is not None:
        try:
            parse_cursor(cursor)
        except ValueError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    filters = []
    for item in field or []:
        name, sep, wanted = item.partition("=")
        if not sep or not name:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"field filter {item!r} is not name=value")
        filters.append((name, wanted))
    rows, next_cursor = service.store.events(EventQuery(
        start=_epoch(start), end=_epoch(end), source=source, level=level, template_id=template_id,
        concept=concept, value=value, q=q, cursor=cursor, limit=limit, fields=tuple(filters)))
    rows, next_cursor = bounded_page(rows, next_cursor, settings.api.max_field_chars, settings.api.max_response_bytes)
    return EventsPage(events=rows, next_cursor=next_cursor)


@router.get("/templates", response_model=TemplatesPage, summary="Templates by count")
def templates(
    service: ServiceDep,
    source: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> TemplatesPage:
    return TemplatesPage(templates=service.store.templates(source, limit, offset))


@router.get("/templates/{template_id}", response_model=TemplateDetail, responses={404: {"model": Problem}},
            summary="One template with its count per time bucket")
def template(template_id: str, service: ServiceDep) -> TemplateDetail:
    found = service.store.template(template_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no template {template_id!r}")
    return TemplateDetail(**found)


@router.get("/anomalies", response_model=AnomaliesPage, summary="Detected anomalies, newest first")
def anomalies(
    service: ServiceDep,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AnomaliesPage:
    rows = service.store.anomalies(_epoch(start), _epoch(end), limit)
    return AnomaliesPage(anomalies=rows)


@router.get("/config", summary="The effective configuration (YAML and environment), secrets redacted")
def config(settings: SettingsDep) -> dict[str, Any]:
    return redacted(settings)


@router.get("/stats", response_model=Stats, summary="Counts of what is stored")
def stats(service: ServiceDep) -> Stats:
    return Stats(**service.store.stats())
