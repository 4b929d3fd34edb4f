"""Templates as a batch parser reports them: every line is mined first, then each line gets the final form
of its template (a template generalised later in the stream replaces the early one)."""

from __future__ import annotations

from collections.abc import Sequence

from logai.pipeline import ParsePipeline


def final_templates(pipeline: ParsePipeline, lines: Sequence[str], source: str, format_name: str) -> list[str]:
    ids = [pipeline.parse_text(text, source=source, format_name=format_name, line=i).template_id
           for i, text in enumerate(lines, start=1)]
    miner = pipeline.parser(format_name).miners[source]
    return [miner.templates[miner.resolve(tid)].text if tid else "" for tid in ids]
