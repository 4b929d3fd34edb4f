"""The /v1 routes the console's overview and live tail read: counts over time, and new events as they are
stored (server-sent events). Public like every /v1 route: scripts can use them too."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from logai.api.deps import ServiceDep, require_api_key
from logai.api.models import Problem
from logai.store.timeline import (
    events_after,
    last_event_id,
    latest_bucket,
    sources,
    template_changes,
    template_series,
    timeline,
)

router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)], tags=["console"],
                   responses={401: {"model": Problem}})


@router.get("/timeline", summary="Events, error-level events, detector anomalies and abnormal verdicts per step")
def get_timeline(service: ServiceDep,
                 end: Annotated[float | None, Query(ge=0, le=1e11, description="Unix seconds (default: the newest "
                                                                                 "data)")] = None,
                 minutes: Annotated[int, Query(ge=1, le=60 * 24 * 31)] = 60,
                 step: Annotated[int, Query(ge=1, le=86400, description="seconds per point")] = 60,
                 source: Annotated[str | None, Query(max_length=256, description="one source only")] = None,
                 ) -> dict[str, Any]:
    """Event time, so a replayed log draws where it happened: without `end`, the range ends at the newest
    stored count (or now, when nothing is stored)."""
    newest = latest_bucket(service.store)
    stop = end if end is not None else (newest + service.store.bucket_seconds if newest is not None else time.time())
    try:
        points = timeline(service.store, stop - minutes * 60, stop, step, source)
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return {"step": max(step, service.store.bucket_seconds), "end": stop, "points": points}


@router.get("/template-series", summary="Counts per bucket of several templates (sparklines)")
def get_template_series(service: ServiceDep,
                        ids: Annotated[list[str], Query(min_length=1, max_length=200, alias="id")],
                        minutes: Annotated[int, Query(ge=1, le=60 * 24 * 31)] = 24 * 60) -> dict[str, Any]:
    """The last `minutes` of data (event time, ending at the newest stored count) of each template `id`."""
    newest = latest_bucket(service.store)
    stop = (newest if newest is not None else time.time()) + service.store.bucket_seconds
    return {"bucket_seconds": service.store.bucket_seconds,
            "series": template_series(service.store, ids, stop - minutes * 60, stop)}


@router.get("/template-changes", summary="Templates whose rate changed, or that are new, in the last window")
def get_template_changes(service: ServiceDep, source: str | None = None,
                         minutes: Annotated[int, Query(ge=1, le=60 * 24 * 31)] = 60,
                         limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> dict[str, Any]:
    """Counts in the last `minutes` of data against the `minutes` before, most changed first (`change` is
    (recent + 1) / (before + 1)); `new` templates were first seen in the last window."""
    return {"minutes": minutes, "templates": template_changes(service.store, minutes * 60, source=source,
                                                              limit=limit)}


@router.get("/sources", summary="Sources with their templates, events, last event and dead letters")
def get_sources(service: ServiceDep) -> dict[str, Any]:
    return {"sources": sources(service.store)}


@router.get("/tail", summary="Live tail: events as they are stored, as server-sent events",
            response_class=StreamingResponse, responses={200: {"content": {"text/event-stream": {}}}})
async def tail(request: Request, service: ServiceDep, source: str | None = None, level: str | None = None,
               q: Annotated[str | None, Query(max_length=512)] = None,
               every_s: Annotated[float, Query(ge=0.2, le=10)] = 1.0) -> StreamingResponse:
    """Each stored event that matches is one `data:` line of JSON (id, ts, source, level, template_id,
    content); a comment line every 15 s keeps proxies from closing an idle stream."""
    start = await run_in_threadpool(last_event_id, service.store)

    async def stream() -> AsyncIterator[bytes]:
        last, quiet = start, 0.0
        yield b": tailing\n\n"
        while not await request.is_disconnected():
            newest = await run_in_threadpool(last_event_id, service.store)
            rows = await run_in_threadpool(events_after, service.store, last, newest, source=source, level=level,
                                           q=q)
            for row in rows:
                yield b"data: " + orjson.dumps({str(k): v for k, v in row.items()}) + b"\n\n"
            # past what matched, up to the newest id: rows that did not match are not read again
            last = rows[-1]["id"] if len(rows) == 200 else newest
            quiet = 0.0 if rows else quiet + every_s
            if quiet >= 15:
                quiet = 0.0
                yield b": keep-alive\n\n"
            if len(rows) < 200:
                await asyncio.sleep(every_s)

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
