"""The shipper doors over HTTP: OTLP/HTTP logs (`POST /v1/logs`), Loki push (`POST /loki/api/v1/push`) and
systemd's journal upload (`POST /upload`).

Each route reads the body under the size cap, then, in a worker thread (decoding a 10 MB batch is CPU work
the event loop must not wait on), lets its door decode and map it and delivers the `DoorBatch` to the
service. A body that cannot be decoded is answered 400 with the reason and nothing of it is stored; the
app's exception handlers answer `BadBody` and `BodyTooLarge`, except on OTLP, whose errors are
`google.rpc.Status` bodies.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.responses import PlainTextResponse

from logai import metrics
from logai.api.bodies import media_type, read_body, read_decoded_body
from logai.api.deps import ServiceDep, SettingsDep, require_api_key
from logai.api.models import Problem
from logai.api.workers import in_ingest_thread
from logai.config import Settings
from logai.doors import journal, loki, otlp
from logai.doors.bodies import BadBody, BodyTooLarge, too_large_detail
from logai.parsing.formats import UnknownFormatError
from logai.service import IngestService

router = APIRouter(dependencies=[Depends(require_api_key)],
                   responses={401: {"model": Problem}, 413: {"model": Problem}})


def _otlp_error(content_type: str, code: int, message: str, door_reason: str) -> Response:
    metrics.DOOR_REJECTED.labels(door="otlp", reason=door_reason).inc()
    grpc_code = {400: 3, 413: 8, 415: 3}.get(code, 2)  # INVALID_ARGUMENT, RESOURCE_EXHAUSTED, UNKNOWN
    encoding = content_type if content_type in (otlp.PROTOBUF, otlp.JSON) else otlp.JSON
    return Response(otlp.encode_status(encoding, grpc_code, message), status_code=code, media_type=encoding)


def _deliver_otlp(service: IngestService, settings: Settings, body: bytes, content_type: str) -> list[str]:
    batch = otlp.read_request(body, content_type, default_source=settings.otlp.default_source,
                              source_attributes=settings.otlp.source_attributes)
    return batch.deliver(service, format_name="plain", door="otlp", max_records=settings.api.max_lines_per_request)


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
    try:
        body = await read_decoded_body(request, settings.api.max_request_bytes)
        refused = await in_ingest_thread(_deliver_otlp, service, settings, body, content_type)
    except BodyTooLarge as exc:
        return _otlp_error(content_type, 413, too_large_detail(exc), "too_large")
    except BadBody as exc:
        return _otlp_error(content_type, 400, str(exc), "bad_body")
    message = f"{len(refused)} log records rejected: {refused[0]}" if refused else ""
    return Response(otlp.encode_response(content_type, len(refused), message), media_type=content_type)


def _deliver_loki(service: IngestService, settings: Settings, body: bytes, content_type: str,
                  tenant: str | None) -> None:
    cfg = settings.loki
    try:
        line_format, parsers = loki.line_parsers(service.pipeline.registry, cfg.line_format)
    except UnknownFormatError as exc:
        raise BadBody(f"loki.line_format: {exc}") from exc
    batch = loki.read_push(body, content_type, settings.api.max_request_bytes, source_labels=cfg.source_labels,
                           default_source=cfg.default_source, tenant=tenant, line_parsers=parsers)
    batch.deliver(service, format_name=line_format, door="loki", max_records=settings.api.max_lines_per_request)


@router.post("/loki/api/v1/push", tags=["doors"], status_code=status.HTTP_204_NO_CONTENT, response_class=Response,
             summary="Loki push API: JSON or snappy-compressed protobuf PushRequest",
             responses={400: {"model": Problem}})
async def loki_push(request: Request, service: ServiceDep, settings: SettingsDep) -> Response:
    """What Alloy's `loki.write`, Fluent Bit's `loki` output, Vector's `loki` sink and Promtail send.
    Answers 204 like Loki. `X-Scope-OrgID` is kept as the `tenant` field."""
    limit, content_type = settings.api.max_request_bytes, media_type(request)
    # protobuf bodies are snappy-compressed inside the format, not by Content-Encoding
    body = await (read_body(request, limit) if content_type == "application/x-protobuf"
                  else read_decoded_body(request, limit))
    await in_ingest_thread(_deliver_loki, service, settings, body, content_type, request.headers.get("x-scope-orgid"))
    return Response(status_code=status.HTTP_204_NO_CONTENT)



def _deliver_journal(service: IngestService, settings: Settings, body: bytes) -> list[str]:
    cfg = settings.journal
    batch = journal.read_upload(body, default_source=cfg.default_source, source_fields=cfg.source_fields)
    return batch.deliver(service, format_name="plain", door="journal", max_records=settings.api.max_lines_per_request)


@router.post("/upload", tags=["doors"], status_code=status.HTTP_202_ACCEPTED, response_class=PlainTextResponse,
             summary="systemd journal upload: the Journal Export Format", responses={400: {"model": Problem},
                                                                                     415: {"model": Problem}})
async def journal_upload(request: Request, service: ServiceDep, settings: SettingsDep) -> PlainTextResponse:
    """What `systemd-journal-upload --url=http://HOST:PORT` sends (as to `systemd-journal-remote`): entries in
    the Journal Export Format, `Content-Type: application/vnd.fdo.journal`. Answers 202 `OK.` like
    systemd-journal-remote; entries without a message are kept as dead letters."""
    if media_type(request) != journal.CONTENT_TYPE:
        metrics.DOOR_REJECTED.labels(door="journal", reason="content_type").inc()
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                            f"Content-Type must be {journal.CONTENT_TYPE} (the Journal Export Format)")
    body = await read_decoded_body(request, settings.api.max_request_bytes)
    refused = await in_ingest_thread(_deliver_journal, service, settings, body)
    return PlainTextResponse(f"OK. {len(refused)} entries refused: {refused[0]}\n" if refused else "OK.\n",
                             status_code=status.HTTP_202_ACCEPTED)
