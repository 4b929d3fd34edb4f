"""Where `logai parse` spends its time per line: a streaming run over one file, stage by stage.

    python pipelines/parse_stages.py FILE --format HDFS

Prints one JSON object: microseconds per line for reading and decoding, the header split, mining (the
template and its parameters, as an event), semantics, JSON encoding and writing (to a scratch file), and
their total. Lines are processed one at a time, as `logai parse` does, so what each stage allocates is freed
as it would be there. It uses only objects that every version of the pipeline has, so a benchmark can run it
from an older checkout (`PYTHONPATH=<checkout>`) and show the profile before and after a change.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from logai.parsing.lines import decode_line, iter_lines, sample_lines
from logai.pipeline import Pipeline

STAGES = ("read and decode", "header", "mining", "semantics", "JSON", "write")


def stage_costs(path: Path, format_name: str | None) -> dict[str, float | int | str]:
    pipeline = Pipeline()
    fmt = format_name or pipeline.detect_format(sample_lines(path))
    parser = pipeline.open_source(path.name, fmt)
    annotate = pipeline.semantics.annotate if pipeline.semantics is not None else None
    clock = time.perf_counter
    spent = [0.0] * len(STAGES)
    lines = 0
    with path.open("rb") as handle, tempfile.TemporaryFile() as sink:
        write = sink.write
        before = clock()
        for number, offset, raw in iter_lines(handle):
            text, flags = decode_line(raw)
            t1 = clock()
            fields, content, timestamp, level = parser._header(text, flags)
            t2 = clock()
            event = parser.parse_split(text, content, path.name, number, offset, timestamp, level, fields, flags)
            t3 = clock()
            if annotate is not None:
                annotate(event)
            t4 = clock()
            blob = event.to_json()
            t5 = clock()
            write(blob)
            write(b"\n")
            t6 = clock()
            for i, (start, end) in enumerate(((before, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5), (t5, t6))):
                spent[i] += end - start
            before = t6
            lines = number
    per_line = {stage: round(seconds / max(lines, 1) * 1e6, 2) for stage, seconds in zip(STAGES, spent, strict=True)}
    return {**per_line, "total": round(sum(per_line.values()), 2), "lines": lines, "format": fmt}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", type=Path)
    ap.add_argument("--format", dest="format_name", default=None, help="default: detected, as `logai parse` does")
    args = ap.parse_args(argv)
    print(json.dumps(stage_costs(args.file, args.format_name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
