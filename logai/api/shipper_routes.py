"""The shipper doors over HTTP: OTLP/HTTP logs (`POST /v1/logs`) and Loki push (`POST /loki/api/v1/push`).

Each route reads the body under the size cap, lets its door decode and map it, dead-letters records that
cannot be mapped, and hands the rest to `IngestService.ingest_records`. A body that cannot be decoded is
answered 400 with the reason and nothing of it is stored.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool

from logai import metrics
from logai.api.bodies import media_type, read_body, read_decoded_body
from logai.api.deps import ServiceDep, SettingsDep, require_api_key
from logai.api.models import Problem
from logai.doors import loki, otlp
from logai.doors.bodies import BadBody, BodyTooLarge, decompress
from logai.ingest.formats import UnknownFormatError
from logai.ingest.headers import header_parser_for

router = APIRouter(dependencies=[Depends(require_api_key)],
                   responses={401: {"model": Problem}, 413: {"model": Problem}})


def _otlp_error(content_type: str, code: int, message: str, door_reason: str) -> Response:
    metrics.DOOR_REJECTED.labels(door="otlp", reason=door_reason).inc()
    grpc_code = {400: 3, 413: 8, 415: 3}.get(code, 2)  # INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNKNOWN
    encoding = content_type if content_type in (otlp.PROTOBUF, otlp.JSON) else otlp.JSON
    return Response(otlp.encode_status(encoding, grpc_code, message), status_code=code, media_type=encoding)


@router.post("/v1/logs", tags=["doors"], summary="OTLP/HTTP logs: ExportLogsServiceRequest, protobuf or JSON",
             response_class=Response, responses={200: {"description": "ExportLogsServiceResponse"},
                                                 400: {"description": "google.rpc.Status"},
                                                 415: {"description": "google.rpc.Status"}})
async def otlp_logs(request: Request, service: ServiceDep, settings: SettingsDep) -> Response:
    """Point an OpenTelemetry SDK or Collector's `otlphttp` exporter here (gzip welcome). Records that
    cannot be mapped are counted in `partial_success` and kept as dead letters."""
    content_type = media_type(request)
    if content_type not in (otlp.PROTOBUF, otlp.JSON):
        return _otlp_error(content_type, 415, f"Content-Type {content_type!r} is neither {otlp.PROTOBUF} nor "
                                              f"{otlp.JSON}", "content_type")
    limit = settings.api.max_request_bytes
    try:
        body = decompress(await read_body(request, limit), request.headers.get("content-encoding"), limit)
        batch = otlp.to_records(otlp.decode_request(body, content_type), default_source=settings.otlp.default_source,
                                source_attributes=settings.otlp.source_attributes)
    except BodyTooLarge as exc:
        return _otlp_error(content_type, 413, str(exc), "too_large")
    except BadBody as exc:
        return _otlp_error(content_type, 400, str(exc), "bad_body")
    for raw, why in batch.rejected:
        service.reject(settings.otlp.default_source, raw, "otlp", why)
    if batch.records:
        await run_in_threadpool(service.ingest_records, batch.records, format_name="plain", door="otlp")
    message = f"{len(batch.rejected)} log records rejected: {batch.rejected[0][1]}" if batch.rejected else ""
    return Response(otlp.encode_response(content_type, len(batch.rejected), message), media_type=content_type)


@router.post("/loki/api/v1/push", tags=["doors"], status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
             summary="Loki push API: JSON or snappy-compressed protobuf PushRequest",
             responses={400: {"model": Problem}})
async def loki_push(request: Request, service: ServiceDep, settings: SettingsDep) -> Response:
    """What Alloy's `loki.write`, Fluent Bit's `loki` output, Vector's `loki` sink and Promtail send.
    Answers 204 like Loki. `X-Scope-OrgID` is kept as the `tenant` field."""
    limit, cfg = settings.api.max_request_bytes, settings.loki
    content_type = media_type(request)
    body = await (read_body(request, limit) if content_type == "application/x-protobuf"
                  else read_decoded_body(request, limit))
    try:
        line_format = "generic" if cfg.line_format == "auto" else cfg.line_format
        names = ["json", "generic"] if cfg.line_format == "auto" else [line_format]
        parsers = [header_parser_for(service.pipeline.registry.get(name)) for name in names]
        batch = loki.to_records(loki.decode_push(body, content_type, limit), source_labels=cfg.source_labels,
                                default_source=cfg.default_source, tenant=request.headers.get("x-scope-orgid"),
                                line_parsers=parsers)
    except BodyTooLarge as exc:
        metrics.DOOR_REJECTED.labels(door="loki", reason="too_large").inc()
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, str(exc)) from exc
    except (BadBody, UnknownFormatError) as exc:
        metrics.DOOR_REJECTED.labels(door="loki", reason="bad_body").inc()
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc
    for source, raw, why in batch.rejected:
        service.reject(source, raw, "loki", why)
    if batch.records:
        await run_in_threadpool(service.ingest_records, batch.records, format_name=line_format, door="loki")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
