"""`logai router`: train a router from your own labelled lines, and show what a router folder holds."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def router() -> None:
    """Routers: the small model that answers first, and when the LLM is asked."""


@router.command()
@click.option("--data", "data_path", type=click.Path(path_type=Path, exists=True, dir_okay=False), required=True,
              help="Labelled lines: JSON lines {\"log\": ..., \"label\": ...} or a CSV with log,label columns.")
@click.option("--task", default="anomaly", show_default=True, help="The task's name (its labels come from the data).")
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), required=True,
              help="Router folder to write (then: route.model_dir, or logai analyze --router).")
@click.option("--format", "format_name", default="generic", show_default=True, help="Log format of the lines.")
@click.option("--dev-share", type=click.FloatRange(0.0, 0.5), default=0.2, show_default=True,
              help="Share of distinct inputs held out to calibrate and to collect error-prone cases.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.pass_obj
def train(obj, data_path: Path, task: str, out: Path, format_name: str, dev_share: float, seed: int) -> None:
    """Train a router for any task on your labelled lines: each distinct line is embedded once by the packaged
    MiniLM and a small head is fitted over it (minutes on two cores, not hours)."""
    from tqdm import tqdm

    from logai.pipeline import Pipeline
    from logai.route.head_training import read_labelled, train_head_router

    try:
        rows = read_labelled(data_path)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    steps = ("parse", "embed", "fit", "cases")
    with tqdm(total=len(steps), desc="router", unit="step") as bar:
        def progress(step: str) -> None:
            bar.set_postfix_str(step)
            if step != steps[0]:
                bar.update(1)

        report = train_head_router(rows, task, out, pipeline=Pipeline(obj.settings), format_name=format_name,
                                   dev_share=dev_share, seed=seed, progress=progress)
        bar.update(1)
    click.echo(json.dumps({"router": str(out), "task": task, **report}))


@router.command()
@click.argument("folder", type=click.Path(path_type=Path, exists=True, file_okay=False), required=False)
def show(folder: Path | None) -> None:
    """The tasks, labels, dev figures and LLM accuracy estimate of a router folder (default: the shipped one)."""
    from logai.paths import DEFAULT_ROUTER

    path = (folder or DEFAULT_ROUTER) / "router.json"
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{path}: not a router folder ({exc})") from exc
    record.pop("data", None)
    click.echo(json.dumps(record, indent=2))
