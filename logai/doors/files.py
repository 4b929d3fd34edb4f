"""The file door for finite files: `logai serve --ingest FILE` stores a whole file once.

Lines get the same keys as the follower's (`doors.watcher`): `file:<name>|<inode>|<byte offset>`, so a file
given to `--ingest` and to `--watch`, or ingested twice, is stored once.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from logai.doors.keys import ingest_key
from logai.parsing.lines import iter_lines, sample_lines
from logai.service import IngestService

log = logging.getLogger(__name__)
BATCH_LINES = 2000


def ingest_file(service: IngestService, path: Path, format_name: str | None) -> int:
    """Feed a whole file through the service in batches; returns the number of new events stored."""
    fmt = format_name or service.pipeline.detect_format(sample_lines(path))
    longest = BATCH_LINES + service.pipeline.settings.parsing.max_record_lines
    stored = 0
    with path.open("rb") as handle:
        inode = os.fstat(handle.fileno()).st_ino

        def store(batch: list[tuple[int, int, bytes]]) -> int:
            keys = [ingest_key("file", path.name, inode, offset) for _, offset, _ in batch]
            return service.ingest([raw for _, _, raw in batch], source=path.name, format_name=fmt, keys=keys,
                                  door="file", first_line=batch[0][0]).stored

        batch: list[tuple[int, int, bytes]] = []
        for line in iter_lines(handle):
            # a batch ends before a record's first line, so a stack trace is not cut in two
            if len(batch) >= BATCH_LINES and (len(batch) >= longest or not service.pipeline.continues(fmt, line[2])):
                stored += store(batch)
                batch = []
            batch.append(line)
        if batch:
            stored += store(batch)
    log.info("ingested %s as %s: %d new events", path, fmt, stored)
    return stored
