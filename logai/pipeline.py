"""The parse pipeline: the one object the CLI, the daemon and the API call to turn lines into events.

It knows the formats, keeps one `LogParser` per format (each with a miner per source), and owns the
persistence of miner state: reloaded at start, saved on a timer and at `close()`.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from logai import metrics
from logai.config import Settings
from logai.events import Event
from logai.parsing.format_detect import detect_format
from logai.parsing.formats import FormatRegistry
from logai.parsing.lines import decode_line, iter_lines
from logai.parsing.masking import load_default_rules
from logai.parsing.miner import TemplateMiner
from logai.parsing.parser import LogParser
from logai.parsing.state import load_state, save_state
from logai.semantics.annotator import DEFAULT_MODEL, SemanticAnnotator
from logai.semantics.model import PairModel

log = logging.getLogger(__name__)


class ParsePipeline:
    """Lines in, `Event`s out, for any number of sources and formats."""

    def __init__(self, settings: Settings | None = None, registry: FormatRegistry | None = None):
        self.settings = settings or Settings()
        extra = [self.settings.formats_dir] if self.settings.formats_dir else []
        self.registry = registry or FormatRegistry.load(extra)
        self.mask_rules = self.settings.parsing.masking or load_default_rules()
        semantics = self.settings.semantics
        self.pair_model = PairModel.load(semantics.model_path or DEFAULT_MODEL) if semantics.enabled else None
        self.parsers: dict[str, LogParser] = {}
        self.state_file: Path | None = self.settings.parsing.state_file
        self._saved = load_state(self.state_file) if self.state_file else {}
        self._last_save = time.monotonic()
        self._recent: OrderedDict[tuple[str, str], None] = OrderedDict()  # (format, source), least recent first

    # -- parsing -------------------------------------------------------------------------------------
    def parser(self, format_name: str) -> LogParser:
        fmt = self.registry.get(format_name)  # raises UnknownFormatError listing the known ones
        parser = self.parsers.get(fmt.name)
        if parser is None:
            parser = self.parsers[fmt.name] = LogParser(fmt, self.settings.parsing, self.mask_rules,
                                                        self.settings.semantics, self.pair_model)
        return parser

    def open_source(self, source: str, format_name: str) -> LogParser:
        """Prepare `source` (its miner, restored from the state file if saved there) and return its parser."""
        parser = self.parser(format_name)
        recent = self._recent
        key = (parser.format.name, source)
        if key in recent:
            recent.move_to_end(key)
        else:
            recent[key] = None
            if len(recent) > self.settings.parsing.max_sources:
                self._evict(*next(iter(recent)))
        if source not in parser.miners:
            saved = self._saved.pop(source, None)
            miner = parser.miner(source)
            if saved is not None:
                if saved.get("format") != parser.format.name:
                    log.warning(
                        "saved templates of source %r were mined with format %r, not %r; starting fresh",
                        source, saved.get("format"), parser.format.name,
                    )
                else:
                    try:
                        miner.load_state(saved["miner"])
                        annotator = parser.annotator(source)
                        if annotator is not None and "kb" in saved:
                            annotator.kb.load_state(saved["kb"])
                    except (KeyError, TypeError, ValueError) as exc:
                        log.warning("saved templates of source %r are invalid (%s); starting fresh",
                                    source, exc)
                        parser.miners.pop(source)
                        parser.miner(source)
        return parser

    def _evict(self, format_name: str, source: str) -> None:
        """Unload the least recently used source (`parsing.max_sources`): its state goes to the saved states
        (written at the next save when a state file is set, so it resumes where it was), else it is dropped."""
        self._recent.pop((format_name, source), None)
        parser = self.parsers[format_name]
        miner = parser.miners.pop(source, None)
        annotator = parser.annotators.pop(source, None)
        if miner is not None and self.state_file is not None:
            self._saved[source] = _source_state(format_name, miner, annotator)
        metrics.SOURCES_EVICTED.inc()
        log.warning("parsing.max_sources (%d) reached: unloaded the least recently used source %r",
                    self.settings.parsing.max_sources, source)

    def parse_text(self, text: str, *, source: str, format_name: str, line: int,
                   offset: int | None = None, flags: list[str] | None = None) -> Event:
        return self.open_source(source, format_name).parse(text, source, line, offset, flags)

    def parse_bytes(self, raw: bytes, *, source: str, format_name: str, line: int,
                    offset: int | None = None) -> Event:
        text, flags = decode_line(raw)
        return self.parse_text(text, source=source, format_name=format_name, line=line,
                               offset=offset, flags=flags)

    def parse_stream(self, stream: Iterable[bytes], *, source: str, format_name: str) -> Iterator[Event]:
        """Every line of a binary stream, in order; the state is saved on the configured timer."""
        parser = self.open_source(source, format_name)
        parse = parser.parse
        for number, offset, raw in iter_lines(stream):
            text, flags = decode_line(raw)
            yield parse(text, source, number, offset, flags)
            if number % 4096 == 0:
                self.maybe_save()

    def detect(self, sample: Iterable[bytes]) -> str:
        return detect_format([decode_line(raw)[0] for raw in sample], self.registry)

    # -- persistence -----------------------------------------------------------------------------------
    def save(self) -> None:
        if self.state_file is None:
            return
        sources = dict(self._saved)  # sources loaded but not seen in this run are kept as they were
        for parser in self.parsers.values():
            for source, miner in parser.miners.items():
                sources[source] = _source_state(parser.format.name, miner, parser.annotators.get(source))
        save_state(self.state_file, sources)
        self._last_save = time.monotonic()

    def maybe_save(self) -> None:
        if self.state_file and time.monotonic() - self._last_save >= self.settings.parsing.save_interval_s:
            self.save()

    def close(self) -> None:
        self.save()


def _source_state(format_name: str, miner: TemplateMiner, annotator: SemanticAnnotator | None) -> dict[str, Any]:
    """What the state file keeps of one source: its format, its miner and its knowledge base."""
    state: dict[str, Any] = {"format": format_name, "miner": miner.to_state()}
    if annotator is not None:
        state["kb"] = annotator.kb.to_state()
    return state
