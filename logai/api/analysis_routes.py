"""The /v1 routes of AdaptiveLog verdicts: analyze lines, list stored analyses, feed back correct labels."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from fastapi.concurrency import run_in_threadpool

from logai.api.deps import AnalysisDep, ServiceDep, require_api_key
from logai.api.models import (
    AnalysesPage,
    AnalyzeRequest,
    AnalyzeResponse,
    FeedbackOut,
    FeedbackPage,
    FeedbackRequest,
    Problem,
    VerdictOut,
)
from logai.api.paging import MAX_ID
from logai.parsing.formats import UnknownFormatError

router = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)],
                   responses={401: {"model": Problem}, 422: {"description": "invalid request"}})


def _check(service, analysis, task: str, fmt: str, labels: list[str] | None = None) -> None:
    known = analysis.tasks
    if task not in known:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"unknown task {task!r}; this router knows {sorted(known)}")
    unknown = [label for label in labels or [] if label not in known[task]]
    if unknown:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT,
                            f"labels {unknown} are not labels of task {task!r}: {known[task]}")
    try:
        service.pipeline.registry.get(fmt)
    except UnknownFormatError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc


@router.get("/tasks", summary="Tasks the router answers, with their labels",
            responses={503: {"model": Problem}})
def tasks(analysis: AnalysisDep) -> dict[str, list[str]]:
    return analysis.tasks


@router.post("/analyze", response_model=AnalyzeResponse, responses={503: {"model": Problem}},
             summary="Verdicts for ad-hoc lines: small model first, the LLM when it is unsure")
async def analyze(body: AnalyzeRequest, service: ServiceDep, analysis: AnalysisDep) -> AnalyzeResponse:
    """Each line is matched against its source's known templates (with semantics), learning nothing and not
    stored as an event; its verdict is stored as an analysis with its provenance (which model, uncertainty,
    cases shown). A line of no known template is judged on its masked text (flag `unmatched`)."""
    _check(service, analysis, body.task, body.format, body.choices)

    def run():
        events = service.match(body.lines, source=body.source, format_name=body.format)
        return events, analysis.analyze(events, body.task, choices=body.choices, evidence=body.evidence)

    events, results = await run_in_threadpool(run)
    return AnalyzeResponse(verdicts=[
        VerdictOut(analysis_id=aid, task=v.task, label=v.label, path=v.path, model=v.model,
                   confidence=v.confidence, uncertainty=v.uncertainty, slm_label=v.slm_label, reason=v.reason,
                   cases=v.cases, cached=v.cached, llm_error=v.llm_error, template_id=e.template_id)
        for e, (aid, v) in zip(events, results, strict=True)])


@router.get("/analyses", response_model=AnalysesPage, summary="Stored verdicts, newest first")
def analyses(
    service: ServiceDep,
    task: str | None = None,
    label: str | None = None,
    event_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AnalysesPage:
    return AnalysesPage(analyses=service.store.analyses(task, label, event_id, limit))


@router.post("/feedback", response_model=FeedbackOut, responses={404: {"model": Problem}, 503: {"model": Problem}},
             summary="An operator's correct label: the next verdict on that input changes at once")
async def feedback(body: FeedbackRequest, service: ServiceDep, analysis: AnalysisDep) -> FeedbackOut:
    """The correction is kept in the audit trail (who, when, the label it replaced) and applied at once: the
    corrected input answers with this label, the default head is re-fitted so similar lines move too, and
    the line becomes an error-prone case for the LLM. `DELETE /v1/feedback/{id}` undoes it."""
    if body.analysis_id is not None:
        stored = await run_in_threadpool(service.store.analysis, body.analysis_id)
        if stored is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no analysis {body.analysis_id}")
        _check(service, analysis, stored["task"], body.format, [body.label])
        row = await run_in_threadpool(analysis.feedback_on_analysis, body.analysis_id, body.label, body.reason,
                                      body.by)
    else:
        _check(service, analysis, body.task, body.format, [body.label])
        line = body.line or ""

        def run() -> dict:
            event = service.parse_one(line, source=body.source, format_name=body.format)
            return analysis.feedback(event, body.task, body.label, body.reason, body.by)

        row = await run_in_threadpool(run)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no analysis {body.analysis_id}")
    return FeedbackOut(**row)


@router.get("/feedback", response_model=FeedbackPage, summary="The corrections' audit trail, oldest first")
def feedback_trail(service: ServiceDep, task: str | None = None, active: bool | None = None,
                   limit: Annotated[int, Query(ge=1, le=10_000)] = 1000) -> FeedbackPage:
    """`active=true`: only those in force; `active=false`: only those undone."""
    return FeedbackPage(feedback=[FeedbackOut(**row) for row in service.store.feedback(task, active, limit)])


@router.delete("/feedback/{feedback_id}", response_model=FeedbackOut,
               responses={404: {"model": Problem}, 503: {"model": Problem}},
               summary="Undo a correction: verdicts return to what they were before it")
async def undo_feedback(feedback_id: Annotated[int, Path(ge=1, le=MAX_ID)], analysis: AnalysisDep,
                        by: Annotated[str, Query(max_length=128)] = "") -> FeedbackOut:
    row = await run_in_threadpool(analysis.undo_feedback, feedback_id, by)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no correction {feedback_id} in force")
    return FeedbackOut(**row)
