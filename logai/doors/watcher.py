"""Background work of `logai serve`: follow watched files into the store, and apply retention on a timer."""

from __future__ import annotations

import logging
import threading
import time
from itertools import groupby
from pathlib import Path

from logai.config import RetentionConfig
from logai.doors.file_tail import FileTail, TailedLine
from logai.doors.keys import ingest_key
from logai.service import IngestService

log = logging.getLogger(__name__)


class Retention:
    """Applies the configured retention at most every `interval_s` (call `maybe_apply` as often as you like)."""

    def __init__(self, config: RetentionConfig):
        self.config = config
        self._last = time.monotonic()

    def maybe_apply(self, service: IngestService) -> int:
        cfg = self.config
        if (cfg.max_age_days is None and cfg.max_events is None) or time.monotonic() - self._last < cfg.interval_s:
            return 0
        self._last = time.monotonic()
        max_age = cfg.max_age_days * 86400 if cfg.max_age_days is not None else None
        deleted = service.store.apply_retention(max_age_seconds=max_age, max_events=cfg.max_events)
        if deleted:
            log.info("retention removed %d events", deleted)
        return deleted


class FileWatcher(threading.Thread):
    def __init__(self, service: IngestService, files: list[tuple[Path, str]], offsets_file: Path,
                 retention: Retention, idle_sleep_s: float = 0.5):
        super().__init__(name="logai-file-watcher", daemon=True)
        self.service = service
        self.tails = [(FileTail(path, offsets_file), path, fmt) for path, fmt in files]
        self.retention = retention
        self.idle_sleep_s = idle_sleep_s
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def poll_once(self) -> int:
        """Ingest what the watched files gained since the last call; returns the number of lines read."""
        total = 0
        for tail, path, fmt in self.tails:
            lines = self._whole_records(tail, tail.read(), fmt)
            if not lines:
                continue
            for _, same_file in groupby(lines, key=lambda t: t.inode):  # a read may run on into a rotated file
                part = list(same_file)
                keys = [ingest_key("file", path.name, t.inode, t.offset) for t in part]
                self.service.ingest([t.data for t in part], source=path.name, format_name=fmt, keys=keys,
                                    door="file", first_line=part[0].number)
            tail.commit()  # only after the lines are stored
            total += len(lines)
        self.retention.maybe_apply(self.service)
        return total

    def _whole_records(self, tail: FileTail, lines: list[TailedLine], fmt: str) -> list[TailedLine]:
        """`lines` without its last record when the read stopped at its limit and the format joins lines: that
        record may go on past the limit (a stack trace), so it is read again, whole, next time."""
        pipeline = self.service.pipeline
        if not tail.more or not lines or not pipeline.parser(fmt).format.multiline:
            return lines
        start = len(lines) - 1
        while start > 0 and pipeline.continues(fmt, lines[start].data):
            start -= 1
        return lines[:start] if start > 0 and tail.unread(lines[start]) else lines

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                if self.poll_once() == 0:
                    self._stop_event.wait(self.idle_sleep_s)
            except Exception as exc:  # keep watching: a failed batch is read again (offsets not committed)
                log.error("file watch batch failed: %s", exc)
                self._stop_event.wait(self.idle_sleep_s * 4)
        for tail, _, _ in self.tails:
            tail.close()
