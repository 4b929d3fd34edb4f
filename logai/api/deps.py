"""Dependencies shared by the API routes (FastAPI's `Depends`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status

from logai.api.guards import authorised
from logai.config import Settings
from logai.route.analysis import AnalysisService
from logai.service import IngestService


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_service(request: Request) -> IngestService:
    return request.app.state.service


def get_analysis(request: Request) -> AnalysisService:
    analysis = getattr(request.app.state, "analysis", None)
    if analysis is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            "no router loaded: this server was built without one")
    return analysis


def require_api_key(
    settings: Annotated[Settings, Depends(get_settings)],
    x_api_key: Annotated[str | None, Header(description="one of the configured api.api_keys")] = None,
    authorization: Annotated[str | None, Header(description="or `Bearer <key>` (OTLP exporters, Loki clients)")]
    = None,
) -> None:
    """When API keys are configured, every /v1 call (and the Loki push) must present one, in `X-API-Key` or as
    `Authorization: Bearer <key>`. `RequestGuard` already refused others before their body was read; this
    declares the headers in the OpenAPI schema and protects routes mounted without the guard."""
    if settings.api.api_keys and not authorised(x_api_key, authorization, frozenset(settings.api.api_keys)):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing or invalid X-API-Key",
                            headers={"WWW-Authenticate": "ApiKey"})

SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[IngestService, Depends(get_service)]
AnalysisDep = Annotated[AnalysisService, Depends(get_analysis)]
