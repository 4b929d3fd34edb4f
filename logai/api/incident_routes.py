"""The /v1 routes of incidents: list, read with their delivery log, acknowledge; and the alert delivery log."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from logai.api.deps import ServiceDep, require_api_key
from logai.api.models import AckRequest, DeliveryOut, IncidentDetail, IncidentOut, IncidentsPage, Problem
from logai.api.paging import MAX_ID
from logai.incidents.service import IncidentService
from logai.store.incidents import IncidentStore

router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)], tags=["incidents"],
                   responses={401: {"model": Problem}, 422: {"description": "invalid request"}})


def get_incident_store(service: ServiceDep) -> IncidentStore:
    return IncidentStore(service.store)


def get_incidents(request: Request) -> IncidentService:
    incidents = request.app.state.service.incidents
    if not isinstance(incidents, IncidentService):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "incidents are off (alerts.enabled: false)")
    return incidents


StoreDep = Annotated[IncidentStore, Depends(get_incident_store)]
IncidentId = Annotated[int, Path(ge=1, le=MAX_ID)]


@router.get("/incidents", response_model=IncidentsPage, summary="Incidents, newest first")
def list_incidents(store: StoreDep,
                   state: Annotated[Literal["open", "acknowledged", "resolved", "active"] | None,
                                    Query(description="active: open or acknowledged")] = None,
                   source: Annotated[str | None, Query(max_length=256)] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50,
                   before: Annotated[int | None, Query(ge=1, le=MAX_ID, description="ids below this")] = None,
                   ) -> IncidentsPage:
    rows = store.find(state, source, limit, before)
    return IncidentsPage(items=[IncidentOut(**row) for row in rows],
                         next_before=rows[-1]["id"] if len(rows) == limit else None)


@router.get("/incidents/{incident_id}", response_model=IncidentDetail, responses={404: {"model": Problem}},
            summary="One incident with its templates, samples, summary and delivery log")
def get_incident(incident_id: IncidentId, store: StoreDep) -> IncidentDetail:
    row = store.get(incident_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident {incident_id}")
    return IncidentDetail(**row, deliveries=[DeliveryOut(**d) for d in store.deliveries(incident_id)])


@router.post("/incidents/{incident_id}/ack", response_model=IncidentOut,
             responses={404: {"model": Problem}, 409: {"model": Problem}, 503: {"model": Problem}},
             summary="Acknowledge an open incident (webhooks are told; it still resolves when quiet)")
async def ack_incident(incident_id: IncidentId, incidents: Annotated[IncidentService, Depends(get_incidents)],
                       body: AckRequest | None = None) -> IncidentOut:
    row = await run_in_threadpool(incidents.ack, incident_id, (body or AckRequest()).by)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no incident {incident_id}")
    if row["state"] == "resolved":
        raise HTTPException(status.HTTP_409_CONFLICT, f"incident {incident_id} is already resolved")
    return IncidentOut(**row)


@router.get("/alerts/deliveries", response_model=list[DeliveryOut], summary="The alert delivery log, newest first")
def deliveries(store: StoreDep,
               state: Annotated[Literal["pending", "sent", "dead"] | None,
                                Query(description="dead: dead letters, given up after alerts.max_attempts")] = None,
               incident_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[DeliveryOut]:
    return [DeliveryOut(**d) for d in store.deliveries(incident_id, state, limit)]
