"""The one place the service is built: every door (HTTP, OTLP, Loki, syslog, Kafka, files) and the CLI get
their `IngestService` from `build_service`, so they share the same pipeline, store, detectors and router.

Start-up problems a user can fix (a file where the data folder should be, an unreachable database, a missing
detector or router folder) are raised as one-line `ConfigError`s naming the setting, not as tracebacks.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from logai import metrics
from logai.config import ConfigError, Settings, redacted, store_url
from logai.detect.stream import StreamScorer
from logai.pipeline import Pipeline
from logai.route.analysis import AnalysisService, build_router
from logai.service import IngestService, Judged
from logai.store.store import EventStore
from logai.store.writer import StoreWriter

if TYPE_CHECKING:
    from logai.incidents.service import IncidentService

T = TypeVar("T")


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _step(setting: str, value: object, build: Callable[[], T]) -> T:
    """Run one start-up step; an error becomes `ConfigError("<setting> <value>: <first line of the error>")`."""
    try:
        return build()
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"{setting} {value}: {_first_line(exc)}") from exc


def build_service(settings: Settings, writer_process: bool = False) -> IngestService:
    """The service every door uses; `writer_process` moves the store's inserts to a child process."""
    metrics.set_max_source_labels(settings.metrics.max_source_labels)
    data_dir = settings.data_dir
    if data_dir.exists() and not data_dir.is_dir():
        raise ConfigError(f"data_dir {data_dir}: is a file, not a folder")
    _step("data_dir", data_dir, lambda: data_dir.mkdir(parents=True, exist_ok=True))
    url, bucket = store_url(settings), settings.store.bucket_seconds
    shown_url = redacted(settings)["store"]["url"] or url
    # opened (and migrated) here first, so the writer finds the schema
    store = _step("store.url", shown_url, lambda: EventStore(url, bucket))
    writer = StoreWriter(url, bucket) if writer_process else None
    pipeline = Pipeline(settings)
    if settings.detect.enabled:
        pipeline.detect = _step("detect.model_path", settings.detect.model_path,
                                lambda: StreamScorer.from_config(settings.detect))
    service = IngestService(pipeline, store, writer)
    _step("route.model_dir", settings.route.model_dir, lambda: attach_analysis(settings, service))
    if settings.alerts.enabled:
        attach_incidents(settings, service)
    return service


def attach_analysis(settings: Settings, service: IngestService) -> AnalysisService:
    """The verdict service (the shipped default router unless `route.model_dir`), shared with the ingest path
    (`route.ingest_task`); operators' corrections are re-applied and kept under `<data_dir>/router`."""
    from logai.store.llm_calls import LlmCallCounter

    router = build_router(settings)
    if router.budget is not None:  # the day's LLM calls are the deployment's, counted in the store
        router.budget.share(LlmCallCounter(service.store))
    analysis = service.pipeline.route = AnalysisService(router, service.store, settings.data_dir / "router")
    task = settings.route.ingest_task
    service.pipeline.route_task = task if task in router.models else None
    if settings.route.feedback_sync_s is not None:  # corrections taken by another process (a daemon's console)
        every = settings.route.feedback_sync_s
        service.on_start.append(lambda: analysis.start_feedback_sync(every))
        service.on_close.append(analysis.stop_feedback_sync)
    return analysis


def attach_incidents(settings: Settings, service: IngestService) -> IncidentService:
    """Incidents from the service's abnormal verdicts (the LLM's reviews included) and anomalies, summarised
    by the router's LLM and alerted; their threads start with `service.start_background()`."""
    from logai.incidents.service import IncidentService, anomaly_signals, verdict_signals
    from logai.incidents.summary import Summarizer
    from logai.route.budget import LlmBudget
    from logai.route.tasks import NORMAL_LABELS
    from logai.store.incidents import IncidentStore
    from logai.store.llm_calls import LlmCallCounter

    config, analysis = settings.alerts, service.analysis
    backend = analysis.router.backend if analysis is not None and config.llm_summary else None
    budget = LlmBudget(None, config.max_summaries_per_day, use="summary").share(LlmCallCounter(service.store))
    summarizer = Summarizer(backend, budget,
                            analysis.router.library if analysis is not None else None)
    public_url = config.public_url or f"http://{settings.api.host}:{settings.api.port}"
    incidents = IncidentService(config, IncidentStore(service.store), summarizer, public_url)

    def judged(batch: Judged) -> None:
        incidents.offer(verdict_signals(batch.events, batch.verdicts, config.group_by, batch.event_ids)
                        + anomaly_signals(batch.anomalies, config.ignore_detectors))

    service.listeners.append(judged)
    if analysis is not None:
        analysis.on_review.append(lambda analysis_id, event, verdict: incidents.offer(
            verdict_signals([event], [(analysis_id, verdict)], config.group_by)))
        analysis.on_correction.append(lambda row: {"resolved_incidents": incidents.corrected(
            row, lambda task, key: analysis.current_label(task, key) in NORMAL_LABELS)})
    service.on_start.append(incidents.start)
    service.on_close.append(incidents.stop)
    service.incidents = incidents
    return incidents
