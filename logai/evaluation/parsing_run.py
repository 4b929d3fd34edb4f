"""Templates as a batch parser reports them: every line is mined first, then each line gets the final form
of its template (a template generalised later in the stream replaces the early one). Shared by
`logai eval loghub` and pipelines/bench_parsing.py."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from logai.evaluation.benchmark_logs import load_labelled
from logai.evaluation.parsing_metrics import ParsingScores, score_parsing
from logai.parsing.lines import decode_line
from logai.pipeline import ParsePipeline


def final_templates(pipeline: ParsePipeline, lines: Sequence[str], source: str, format_name: str) -> list[str]:
    ids = [pipeline.parse_text(text, source=source, format_name=format_name, line=i).template_id
           for i, text in enumerate(lines, start=1)]
    miner = pipeline.parser(format_name).miners[source]
    return [miner.templates[miner.resolve(tid)].text if tid else "" for tid in ids]


def loghub_templates(system: str, raw_lines: Sequence[bytes]) -> list[str]:
    """logai's templates for one Loghub system's raw lines, with that system's log format."""
    return final_templates(ParsePipeline(), [decode_line(raw)[0] for raw in raw_lines], system, system)


def loghub_scores(data: Path, system: str, annotation: str) -> ParsingScores:
    """GA/PA/FGA/FTA of logai on one Loghub-2k system (`annotation`: corrected or loghub2)."""
    labelled = load_labelled(data, system, annotation)
    return score_parsing(labelled.templates, loghub_templates(system, labelled.lines))
