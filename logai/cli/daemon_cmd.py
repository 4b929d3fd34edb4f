"""`logai daemon`: the Kafka worker. Several in one consumer group share the topic's partitions."""

from __future__ import annotations

import gc
import logging
import signal

import click

from logai.config import ConfigError, store_url

log = logging.getLogger(__name__)


@click.command()
@click.option("--bootstrap-servers", default=None, help="Comma-separated host:port (default: kafka.bootstrap_servers).")
@click.option("--topic", "topics", multiple=True, help="Topic to consume (repeatable; default: kafka.topics).")
@click.option("--group-id", default=None, help="Consumer group (default: kafka.group_id).")
@click.option("--metrics-port", type=int, default=None, help="Serve Prometheus /metrics on this port.")
@click.pass_obj
def daemon(app, bootstrap_servers: str | None, topics: tuple[str, ...], group_id: str | None,
           metrics_port: int | None) -> None:
    """Consume log lines from Kafka, parse, store and publish enriched events (at least once).

    Record keys name the source (per-source parser state stays on one worker); values are raw lines.
    SIGTERM finishes the current batch, commits, saves the parser state and exits 0.
    """
    from prometheus_client import start_http_server

    from logai import metrics
    from logai.doors.kafka_clients import KafkaClients

    settings = app.settings
    kafka = settings.kafka.model_copy(update={
        k: v for k, v in {
            "bootstrap_servers": bootstrap_servers.split(",") if bootstrap_servers else None,
            "topics": list(topics) or None, "group_id": group_id, "metrics_port": metrics_port,
        }.items() if v is not None})
    if kafka.metrics_port is not None:
        start_http_server(kafka.metrics_port, registry=metrics.REGISTRY)
    # the group is joined (a ~3 s rebalance delay) while torch and the small models load
    try:
        clients = KafkaClients(kafka)
    except Exception as exc:
        raise click.ClickException(f"cannot reach Kafka at {','.join(kafka.bootstrap_servers)}: {exc}") from exc
    clients.start_joining()
    try:
        from logai.bootstrap import build_service  # torch, scikit-learn: imported here, not at start-up
        from logai.doors.kafka import KafkaDaemon

        service = build_service(settings, writer_process=settings.store.writer_process)
    except BaseException as exc:
        clients.close()
        if isinstance(exc, ConfigError):
            raise click.ClickException(str(exc)) from exc
        raise
    service.start_background()  # the LLM's reviews of uncertain verdicts; incidents and alerts
    gc.freeze()  # start-up objects (models, formats, restored parser state) need no more collector passes
    worker = KafkaDaemon(kafka, service, settings.store.retention, clients=clients)
    signal.signal(signal.SIGTERM, lambda *_: worker.stop())
    signal.signal(signal.SIGINT, lambda *_: worker.stop())
    log.info("consuming %s as group %s into %s", kafka.topics, kafka.group_id, store_url(settings))
    worker.run()
    log.info("stopped after %d batches", worker.batches)
