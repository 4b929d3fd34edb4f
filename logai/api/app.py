"""The FastAPI application: `create_app(settings)` wires the routes to one `IngestService`."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from logai import __version__, metrics
from logai.api.analysis_routes import router as analysis_router
from logai.api.console_routes import router as console_router
from logai.api.guards import RequestGuard
from logai.api.incident_routes import router as incident_router
from logai.api.loki_read_routes import router as loki_read_router
from logai.api.routes import router
from logai.api.shipper_routes import router as shipper_router
from logai.bootstrap import build_service
from logai.config import Settings
from logai.console import mount_console
from logai.doors.bodies import BadBody, BodyTooLarge, too_large_detail
from logai.service import IngestService

log = logging.getLogger(__name__)


_DOOR_OF_ROUTE = {"/v1/logs": "otlp", "/loki/api/v1/push": "loki"}  # the rest of /v1 is the `http` door


def _door_refusal(request: Request, status_code: int, detail: str, reason: str) -> JSONResponse:
    """A body a door cannot take: 400 (undecodable) or 413 (over the cap), counted by door. Nothing is stored."""
    route = getattr(request.scope.get("route"), "path", "")
    metrics.DOOR_REJECTED.labels(door=_DOOR_OF_ROUTE.get(route, "http"), reason=reason).inc()
    return JSONResponse({"detail": detail}, status_code=status_code)


def create_app(settings: Settings, service: IngestService | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.settings = settings
        app.state.service = service or build_service(settings)
        app.state.analysis = app.state.service.analysis
        if service is None and app.state.service.incidents is not None:  # `serve` starts all background work
            app.state.service.incidents.start()
        yield
        if service is None:
            app.state.service.close()

    app = FastAPI(title="logai", version=__version__, lifespan=lifespan,
                  description="Structured, semantically typed log events: ingest, search, templates, anomalies.")

    @app.middleware("http")
    async def observe(request: Request, call_next):
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # logged with its traceback and the id the client got, never swallowed
            request_id = request.scope.get("state", {}).get("request_id", "-")
            log.exception("%s %s failed (request id %s)", request.method, request.url.path, request_id)
            metrics.ERRORS.labels(stage="http").inc()
            route = request.scope.get("route")  # counted like any answer: a 500 must show in the status counts
            metrics.REQUEST_SECONDS.labels(request.method, getattr(route, "path", "unmatched"), "500").observe(
                time.perf_counter() - started)
            return JSONResponse({"detail": "internal error", "request_id": request_id}, status_code=500)
        route = request.scope.get("route")
        metrics.REQUEST_SECONDS.labels(request.method, getattr(route, "path", "unmatched"),
                                       str(response.status_code)).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(BadBody)
    async def bad_body(request: Request, exc: BadBody) -> JSONResponse:
        return _door_refusal(request, 400, str(exc), "bad_body")

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        return _door_refusal(request, 413, too_large_detail(exc), "too_large")

    @app.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:  # on the event loop: no thread hand-off, so it answers under load
        return {"status": "ok"}

    @app.get("/readyz", summary="The store answers", responses={503: {"description": "store unreachable"}})
    def readyz(request: Request) -> Response:
        ready = request.app.state.service.store.ping()
        return JSONResponse({"status": "ready" if ready else "store unreachable"}, status_code=200 if ready else 503)

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)

    app.include_router(router)
    app.include_router(analysis_router)
    app.include_router(shipper_router)
    app.include_router(incident_router)
    app.include_router(loki_read_router)
    app.include_router(console_router)
    mount_console(app)
    app.add_middleware(RequestGuard, api_keys=settings.api.api_keys,  # outermost: runs before anything else
                       max_request_bytes=settings.api.max_request_bytes)
    return app
