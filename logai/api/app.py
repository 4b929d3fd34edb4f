"""The FastAPI application: `create_app(settings)` wires the routes to one `IngestService`."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from logai import __version__, metrics
from logai.api.analysis_routes import router as analysis_router
from logai.api.routes import router
from logai.api.shipper_routes import router as shipper_router
from logai.config import Settings, store_url
from logai.detect.stream import StreamScorer
from logai.doors.bodies import BadBody, BodyTooLarge
from logai.pipeline import ParsePipeline
from logai.route.analysis import AnalysisService, build_router
from logai.service import IngestService
from logai.store.store import EventStore
from logai.store.writer import StoreWriter


def build_service(settings: Settings, writer_process: bool = False) -> IngestService:
    """The service every door uses; `writer_process` moves the store's inserts to a child process."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url, bucket = store_url(settings), settings.store.bucket_seconds
    store = EventStore(url, bucket)  # opened (and migrated) here first, so the writer finds the schema
    writer = StoreWriter(url, bucket) if writer_process else None
    scorer = StreamScorer.from_config(settings.detect) if settings.detect.enabled else None
    service = IngestService(ParsePipeline(settings), store, writer, scorer)
    attach_analysis(settings, service)
    return service


def attach_analysis(settings: Settings, service: IngestService) -> AnalysisService | None:
    """The verdict service when a router is configured; shared with the ingest path (`route.ingest_task`)."""
    router = build_router(settings)
    if router is None:
        return None
    library_dir = settings.route.model_dir / "cases" if settings.route.model_dir else None
    service.analysis = AnalysisService(router, service.store, library_dir)
    service.analysis_task = settings.route.ingest_task
    return service.analysis


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
        except Exception:
            metrics.ERRORS.labels(stage="http").inc()
            return JSONResponse({"detail": "internal error"}, status_code=500)
        route = request.scope.get("route")
        metrics.REQUEST_SECONDS.labels(request.method, getattr(route, "path", "unmatched"),
                                       str(response.status_code)).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(BadBody)
    async def bad_body(request: Request, exc: BadBody) -> JSONResponse:
        return _door_refusal(request, 400, str(exc), "bad_body")

    @app.exception_handler(BodyTooLarge)
    async def body_too_large(request: Request, exc: BodyTooLarge) -> JSONResponse:
        return _door_refusal(request, 413, f"{exc} (api.max_request_bytes)", "too_large")

    @app.get("/healthz", summary="The process is alive")
    def healthz() -> dict[str, str]:
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
    return app
