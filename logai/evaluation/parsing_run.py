"""Templates as a batch parser reports them: every line is mined first, then each line gets the final form
of its template (a template generalised later in the stream replaces the early one). Shared by
`logai eval loghub` and pipelines/bench_parsing.py."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from logai.config import Settings
from logai.evaluation.benchmark_logs import load_labelled
from logai.evaluation.parsing_metrics import ParsingScores, score_parsing
from logai.parsing.lines import decode_line
from logai.pipeline import Pipeline


def final_templates(pipeline: Pipeline, lines: Sequence[str], source: str, format_name: str) -> list[str]:
    ids = [pipeline.parse_text(text, source=source, format_name=format_name, line=i).template_id
           for i, text in enumerate(lines, start=1)]
    return [pipeline.template_text(source, format_name, tid) if tid else "" for tid in ids]


def loghub_templates(system: str, raw_lines: Sequence[bytes], settings: Settings | None = None) -> list[str]:
    """logai's templates for one Loghub system's raw lines, with that system's log format, parsed with
    `settings` (default: the built-in configuration)."""
    return final_templates(Pipeline(settings), [decode_line(raw)[0] for raw in raw_lines], system, system)


def loghub_scores(data: Path, system: str, annotation: str, settings: Settings | None = None) -> ParsingScores:
    """GA/PA/FGA/FTA of logai on one Loghub-2k system (`annotation`: corrected or loghub2)."""
    labelled = load_labelled(data, system, annotation)
    return score_parsing(labelled.templates, loghub_templates(system, labelled.lines, settings))
