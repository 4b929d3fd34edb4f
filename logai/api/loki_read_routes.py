"""Loki's read API over logai's store, so Grafana's Loki data source (Explore, Logs Drilldown) can point at
logai: labels, label values, `query_range` and `query` for the LogQL subset of `logai.store.logql`, and
`patterns` (logai's templates, kept as long as the store keeps counts). Answers use Loki's JSON shapes;
a query outside the subset is answered 400 with a text naming the unsupported part, as Loki answers errors.
"""

from __future__ import annotations

import math
import re
import time
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from logai.api.deps import ServiceDep, require_api_key
from logai.store.logql import UnsupportedQuery, constant, parse
from logai.store.loki_read import LABELS, LokiReader

router = APIRouter(prefix="/loki/api/v1", dependencies=[Depends(require_api_key)], tags=["loki read API"])

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class BadRequest(ValueError):
    pass


def parse_time(value: str | None, default: float) -> float:
    """Loki's time parameters: nanoseconds since the epoch (integers), seconds (with a fraction), RFC 3339."""
    if value is None or value == "":
        return default
    try:
        if re.fullmatch(r"-?\d+", value):
            number = int(value)
            return number / 1e9 if abs(number) >= 10**12 else float(number)  # small integers: seconds
        if re.fullmatch(r"-?\d+\.\d*", value):
            seconds = float(value)
            if not math.isfinite(seconds):
                raise ValueError(value)
            return seconds
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError) as exc:
        raise BadRequest(f"cannot parse {value[:60]!r} as a timestamp") from exc


def parse_duration(value: str | None, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        seconds = float(value)
    except ValueError:
        parts = _DURATION.findall(value)
        if not parts or "".join(a + b for a, b in parts) != value:
            raise BadRequest(f"cannot parse {value[:60]!r} as a duration") from None
        seconds = sum(float(a) * _UNITS[b] for a, b in parts)
    if not math.isfinite(seconds) or seconds < 0 or seconds > 10 * 366 * 86400:
        raise BadRequest(f"duration {value[:60]!r} is out of range (0 to 10 years)")
    return seconds


def _error(message: str) -> PlainTextResponse:
    return PlainTextResponse(message, status_code=400)


def _window(start: str | None, end: str | None, since: str | None, default_s: float) -> tuple[float, float]:
    stop = parse_time(end, time.time())
    begin = parse_time(start, stop - parse_duration(since, default_s))
    if begin > stop:
        raise BadRequest("the end timestamp must not be before the start")
    return begin, stop


async def _answer(work: Any) -> Any:
    try:
        return await run_in_threadpool(work)
    except (UnsupportedQuery, BadRequest) as exc:
        return _error(str(exc))


def _reader(service: ServiceDep) -> LokiReader:
    return LokiReader(service.store)


ReaderDep = Annotated[LokiReader, Depends(_reader)]


@router.get("/labels", summary="Label names (Loki)")
async def labels() -> dict[str, Any]:
    return {"status": "success", "data": list(LABELS)}


@router.get("/label/{name}/values", summary="Values of a label (Loki)", response_model=None)
async def label_values(name: str, reader: ReaderDep, start: str | None = None, end: str | None = None,
                       since: str | None = None) -> Any:
    def work() -> dict[str, Any]:
        begin, stop = _window(start, end, since, 6 * 3600)
        return {"status": "success", "data": reader.label_values(name, begin, stop)}

    return await _answer(work)


def _streams(reader: LokiReader, query: str, begin: float, stop: float, limit: int, direction: str
             ) -> dict[str, Any]:
    if direction not in ("backward", "forward"):
        raise BadRequest(f"direction must be backward or forward, not {direction!r}")
    result = reader.streams(parse(query), begin, stop, limit, direction)
    return {"status": "success", "data": {"resultType": "streams", "result": result,
                                          "stats": {"summary": {"totalEntriesReturned":
                                                                sum(len(s["values"]) for s in result)}}}}


@router.get("/query_range", summary="Log lines of a LogQL selector over a time range (Loki)", response_model=None)
async def query_range(reader: ReaderDep, query: Annotated[str, Query(max_length=10_000)], start: str | None = None,
                      end: str | None = None, since: str | None = None,
                      limit: Annotated[int, Query(ge=1, le=5000)] = 100, direction: str = "backward",
                      step: str | None = None) -> Any:
    """`query`: a stream selector with line filters, e.g. `{source="checkout"} |= "timeout"`; times as Loki
    takes them (nanoseconds, seconds or RFC 3339; default the last hour)."""
    def work() -> dict[str, Any]:
        begin, stop = _window(start, end, since, 3600)
        parse_duration(step, 0)  # accepted for compatibility; log queries have no steps
        return _streams(reader, query, begin, stop, limit, direction)

    return await _answer(work)


@router.get("/query", summary="Log lines up to an instant, or a constant (Grafana's health check) (Loki)",
            response_model=None)
async def instant_query(reader: ReaderDep, query: Annotated[str, Query(max_length=10_000)],
                        time_: Annotated[str | None, Query(alias="time")] = None,
                        limit: Annotated[int, Query(ge=1, le=5000)] = 100, direction: str = "backward") -> Any:
    """A log query returns the lines of the hour before `time`; `vector(1)+vector(1)` returns 2."""
    def work() -> dict[str, Any]:
        at = parse_time(time_, time.time())
        value = constant(query)
        if value is not None:
            return {"status": "success", "data": {"resultType": "vector",
                                                  "result": [{"metric": {}, "value": [at, f"{value:g}"]}]}}
        return _streams(reader, query, at - 3600, at, limit, direction)

    return await _answer(work)


@router.get("/patterns", summary="Patterns (templates) with their counts per step (Loki)", response_model=None)
async def patterns(reader: ReaderDep, query: Annotated[str, Query(max_length=10_000)], start: str | None = None,
                   end: str | None = None, step: str | None = None) -> Any:
    """What Grafana's Logs Drilldown shows under Patterns: each template of the selected sources as a Loki
    pattern (`<_>` for variables) with `[seconds, count]` samples per `step` (at least store.bucket_seconds)."""
    def work() -> dict[str, Any]:
        begin, stop = _window(start, end, None, 3600)
        return {"status": "success", "data": reader.patterns(parse(query), begin, stop,
                                                             int(parse_duration(step, 60)))}

    return await _answer(work)

