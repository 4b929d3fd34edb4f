"""`logai serve`: the REST API with in-process ingestion, on embedded defaults (SQLite under data_dir)."""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path

import click

from logai.config import ConfigError, store_url

log = logging.getLogger(__name__)


@click.command()
@click.option("--host", default=None, help="Bind address (default: api.host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: api.port, 8000).")
@click.option("--ingest", "files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Log file to ingest at start (repeatable); already stored lines are skipped.")
@click.option("--watch", "watched", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Log file to follow like `tail -F` (repeatable; survives rotation, resumes after restart).")
@click.option("--format", "format_name", default=None,
              help="Format of the --ingest/--watch files (default: detected).")
@click.option("--syslog-port", type=int, default=None,
              help="Also listen for syslog on this TCP port (RFC 6587; default: syslog.port, off).")
@click.option("--syslog-udp-port", type=int, default=None,
              help="Also listen for syslog on this UDP port (RFC 5426; default: syslog.udp_port, off).")
@click.pass_obj
def serve(app, host: str | None, port: int | None, files: tuple[Path, ...], watched: tuple[Path, ...],
          format_name: str | None, syslog_port: int | None, syslog_udp_port: int | None) -> None:
    """Run the REST API (docs at /docs, metrics at /metrics), OTLP/HTTP at /v1/logs, Loki push at
    /loki/api/v1/push and, when a port is given, a syslog listener, on the configured store."""
    import uvicorn

    from logai.api.app import create_app  # FastAPI, torch: imported when serving, not at start-up
    from logai.bootstrap import build_service
    from logai.doors.files import ingest_file
    from logai.doors.syslog import SyslogServer
    from logai.doors.watcher import FileWatcher, Retention

    settings = app.settings
    if syslog_port is not None:
        settings.syslog.port = syslog_port
    if syslog_udp_port is not None:
        settings.syslog.udp_port = syslog_udp_port
    try:
        service = build_service(settings)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    service.start_background()  # the LLM's reviews of uncertain verdicts; incidents and alerts
    gc.freeze()  # start-up objects (models, formats, parser state) are never garbage: keep them out of GC passes
    # Ingest runs in worker threads; a 1 ms GIL switch interval (default 5 ms) lets the event loop answer
    # /healthz and small requests promptly while a large body is parsed, for a few percent of throughput.
    sys.setswitchinterval(0.001)
    syslog = None
    if settings.syslog.enabled:
        syslog = SyslogServer(service, settings.syslog).start()
    for path in files:
        ingest_file(service, path, format_name)
    detect = service.pipeline.detect_file_format
    watch_list = [(path, format_name or (detect(path) if path.exists() else "generic"))
                  for path in watched]
    watcher = FileWatcher(service, watch_list, settings.data_dir / "tail-offsets.json",
                          Retention(settings.store.retention))
    watcher.start()
    host, port = host or settings.api.host, port if port is not None else settings.api.port
    log.info("store %s; console on http://%s:%d/ (API docs at /docs)", store_url(settings), host, port)
    try:
        uvicorn.run(create_app(settings, service), host=host, port=port, log_level="warning")
    finally:
        if syslog is not None:
            syslog.stop()
        watcher.stop()
        watcher.join(timeout=10)
        service.close()

