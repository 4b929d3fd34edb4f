"""`logai detect`: train an anomaly detector on a log (or the store) and score logs with it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click
import orjson

# template ids are per source, so training and scoring must name the same one
DEFAULT_SOURCE = "default"
_GROUPING = [
    click.option("--session-concept", default=None, help="Group sessions by the parameter with this concept."),
    click.option("--session-pattern", default=None, help="Or by parameter values matching this regex."),
    click.option("--window-s", type=float, default=None, help="Or into fixed windows of this many seconds."),
]


def grouping(func):
    for option in reversed(_GROUPING):
        func = option(func)
    return func


def _events(app, path: Path | None, format_name: str | None, from_store: bool, source: str | None) -> Iterator:
    """Events of a log file (parsed with the shared pipeline) or of the store, oldest first."""
    if from_store:
        from logai.config import store_url
        from logai.store.store import EventStore

        store = EventStore(store_url(app.settings))
        try:
            yield from store.iter_events(source=source)
        finally:
            store.close()
        return
    if path is None:
        raise click.UsageError("give --input FILE or --from-store")
    from logai.pipeline import Pipeline

    pipeline = Pipeline(app.settings)
    with open(path, "rb") as handle:
        sample = [line for _, line in zip(range(200), handle, strict=False)]
    fmt = format_name or pipeline.detect_format(sample)
    with open(path, "rb") as handle:
        yield from pipeline.parse_stream(handle, source=source or DEFAULT_SOURCE, format_name=fmt)


@click.group()
def detect() -> None:
    """Anomaly detectors: train on sessions or windows of a log, score logs with a trained detector."""


@detect.command()
@click.option("--detector", "name", required=True,
              type=click.Choice(["pca", "isolation_forest", "invariants", "deeplog", "logistic", "gbdt", "logrobust"]))
@click.option("--input", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Raw log file to learn from.")
@click.option("--from-store", is_flag=True, help="Learn from the events in the store instead.")
@click.option("--source", default=None, help="Source name for the file (template ids are per source: score with "
              "the same name; default 'default') or the source to read from the store.")
@click.option("--format", "format_name", default=None, help="Log format (default: detected).")
@grouping
@click.option("--labels", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="CSV of group key,label (Normal/Anomaly): required by supervised detectors; others then "
                   "learn from the normal groups only.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder to save the detector in.")
@click.pass_obj
def train(app, name, path, from_store, source, format_name, session_concept, session_pattern, window_s, labels,
          out) -> None:
    """Fit a detector on the sessions or windows of a log and save it (use it via detect.model_path)."""
    from logai.detect.persist import save
    from logai.detect.training import collect_groups, fit, read_labels

    texts: dict[str, str] = {}
    try:
        groups = collect_groups(_events(app, path, format_name, from_store, source), session_concept,
                                session_pattern, window_s, texts=texts)
        if not groups:
            raise click.ClickException("no sessions or windows found: check the grouping options")
        detector = fit(name, groups, read_labels(labels) if labels else None, texts)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    save(detector, out)
    click.echo(f"trained {name} on {len(groups)} groups; saved to {out}", err=True)


@detect.command()
@click.option("--model", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="A detector folder from `logai detect train`.")
@click.option("--input", "path", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None)
@click.option("--from-store", is_flag=True, help="Score the events in the store instead.")
@click.option("--source", default=None, help="The source name used in training (default 'default').")
@click.option("--format", "format_name", default=None)
@grouping
@click.option("--all", "show_all", is_flag=True, help="Print every group with its score, not only anomalies.")
@click.pass_obj
def score(app, model, path, from_store, source, format_name, session_concept, session_pattern, window_s,
          show_all) -> None:
    """Score the sessions or windows of a log; prints JSON lines (anomalies only unless --all)."""
    from logai.detect.persist import DetectorFileError, load
    from logai.detect.training import collect_groups, sequences_of

    texts: dict[str, str] = {}
    try:
        detector = load(model)
        groups = collect_groups(_events(app, path, format_name, from_store, source), session_concept,
                                session_pattern, window_s, texts=texts)
    except (DetectorFileError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    scores: list[float] = list(detector.score_samples(sequences_of(detector, groups, texts))) if groups else []
    flagged = 0
    for group, value in zip(groups, scores, strict=True):
        anomalous = bool(value > detector.threshold_)
        flagged += anomalous
        if anomalous or show_all:
            sys.stdout.write(orjson.dumps({"group": group.key, "source": group.source, "score": float(value),
                                           "anomaly": anomalous, "events": len(group.templates),
                                           "start": group.start, "end": group.end}).decode() + "\n")
    click.echo(f"{flagged} of {len(groups)} groups anomalous", err=True)
