"""The file door for finite files: `logai serve --ingest FILE` stores a whole file once.

Lines get the same keys as the follower's (`doors.watcher`): `file:<name>|<inode>|<byte offset>`, so a file
given to `--ingest` and to `--watch`, or ingested twice, is stored once.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

from logai.doors.keys import ingest_key
from logai.events import Record
from logai.parsing.lines import iter_lines
from logai.service import IngestService

log = logging.getLogger(__name__)
BATCH_LINES = 2000


def ingest_file(service: IngestService, path: Path, format_name: str | None) -> int:
    """Feed a whole file through the service in batches; returns the number of new events stored."""
    fmt = format_name or service.pipeline.detect_file_format(path)
    if service.pipeline.registry.get(fmt).kind == "journal-export":
        return _ingest_journal(service, path, fmt)
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



def _ingest_journal(service: IngestService, path: Path, format_name: str) -> int:
    """A Journal Export Format file (`journalctl -o export > host.export`), entry by entry; each entry's source
    is named by its fields as at POST /upload, and keys hash its cursor, so a file is stored once. An entry
    without a message is a dead letter; where the framing breaks, what came before is stored and the rest is
    left with an error that names the byte."""
    from logai.doors import journal
    from logai.doors.batch import Rejected
    from logai.doors.bodies import BadBody

    cfg = service.pipeline.settings.journal
    with path.open("rb") as handle:
        def records() -> Iterator[Record]:
            try:
                for _, item in journal.read_records(handle, cfg.default_source, cfg.source_fields):
                    if isinstance(item, Rejected):
                        service.reject(item.source, item.raw, "file", item.why, item.key)
                    else:
                        yield item
            except BadBody as exc:
                log.error("%s: stopped reading: %s", path, exc)

        stored = service.ingest_records(records(), format_name=format_name, door="file").stored
    log.info("ingested %s as %s: %d new events", path, format_name, stored)
    return stored
