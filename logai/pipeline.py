"""The pipeline: the stages in their order, parse -> semantics -> detect -> route, in the one object that the
service (so every door), the CLI and the evaluations call. Nothing else chains stages.

- parse (`parsing.LogParser`, one per format with a miner per source): header split, masking, templates;
- semantics (`semantics.SemanticsStage`, unless off): typed parameters, concepts, the knowledge base;
- detect (`detect.StreamScorer`, when given): in-stream signals and session detectors over each batch;
- route (`route.AnalysisService`, when given): verdicts, the small model first and the LLM when unsure.
  On the ingest path (`decide`) they are stored with the batch's events, against their ids.

The pipeline owns the state of the parse and semantics stages, behind one `PersistenceHandler` (Drain3's
manner): reloaded per source when the source is first seen, saved on a timer and at `close()`.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from logai import metrics
from logai.config import Settings
from logai.events import FLAG_EMPTY, FLAG_PARAMS_UNALIGNED, Event, Param, Record, message_head
from logai.parsing import format_detect
from logai.parsing.formats import FormatRegistry
from logai.parsing.lines import decode_line, iter_lines
from logai.parsing.masking import load_default_rules
from logai.parsing.miner import TemplateMiner
from logai.parsing.multiline import join_continuations
from logai.parsing.parser import LogParser
from logai.parsing.state import FilePersistence, PersistenceHandler, encode_state, restore_state
from logai.semantics.stage import SemanticsStage

if TYPE_CHECKING:  # the detect and route stages are built by `bootstrap`; `logai parse` never imports them
    from logai.detect.signals import Anomaly
    from logai.detect.stream import StreamScorer
    from logai.route.analysis import AnalysisService, Decided
    from logai.route.router import Verdict

log = logging.getLogger(__name__)
K = TypeVar("K")
MAX_SOURCE_CHARS = 256  # the store's source column


@dataclass
class Parsed:
    """A batch after parse -> semantics -> detect."""

    events: list[Event] = field(default_factory=list)  # in input order; inputs that failed are left out
    positions: list[int] = field(default_factory=list)  # each event's index in the input
    failed: list[tuple[int, Exception]] = field(default_factory=list)  # (index in the input, why)
    anomalies: list[Anomaly] = field(default_factory=list)  # what the detect stage found in the batch
    merges: list[tuple[str, str]] = field(default_factory=list)  # templates generalised meanwhile: (old, new id)


class Pipeline:
    """Lines or records in, events (and anomalies, and verdicts) out, for any number of sources and formats."""

    def __init__(self, settings: Settings | None = None, registry: FormatRegistry | None = None,
                 persistence: PersistenceHandler | None = None, detect: StreamScorer | None = None,
                 route: AnalysisService | None = None, route_task: str | None = None):
        self.settings = settings or Settings()
        self.registry = registry or FormatRegistry.for_settings(self.settings)
        self.mask_rules = self.settings.parsing.masking or load_default_rules()
        semantics = self.settings.semantics
        self.semantics = (SemanticsStage(semantics, self.settings.parsing.max_content_chars)
                          if semantics.enabled else None)
        self.detect = detect
        self.route = route
        self.route_task = route_task  # every batch gets verdicts of this task when a route stage is set
        self.parsers: dict[str, LogParser] = {}
        state_file = self.settings.parsing.state_file
        self.persistence = persistence or (FilePersistence(state_file) if state_file else None)
        self._saved = restore_state(self.persistence) if self.persistence else {}
        self._last_save = time.monotonic()
        self._recent: OrderedDict[tuple[str, str], None] = OrderedDict()  # (format, source), least recent first
        self._source_format: dict[str, str] = {}  # the format each loaded source was last read with

    # -- the stages, in order -----------------------------------------------------------------------------
    def run(self, lines: Sequence[bytes | str], *, source: str, format_name: str, first_line: int = 1
            ) -> Parsed:
        """Parse -> semantics -> detect for lines of one source, raw or decoded, numbered from `first_line`. A
        format whose lines continue joins them into records: an event's position is its first line's, and a
        record that fails takes all its lines to `failed`."""
        parsed = Parsed()
        parser = self.open_source(source, format_name)
        parse = parser.parse  # once per batch, not per line
        decoded = ((i, *(decode_line(raw) if isinstance(raw, bytes) else (raw, []))) for i, raw in enumerate(lines))
        for indices, text, flags in self._records(parser, decoded):
            i = indices[0]
            try:
                parsed.events.append(parse(text, source, first_line + i, None, flags))
                parsed.positions.append(i)
            except Exception as exc:
                parsed.failed += [(index, exc) for index in indices]
        parsed.merges = _take_merges(parser, source)
        return self._after_parsing(parsed)

    def continues(self, format_name: str, line: bytes | str) -> bool:
        """Whether `line` continues the record before it: its format joins lines and it starts no record."""
        parser = self.parser(format_name)
        if not parser.format.multiline:
            return False
        return parser.continues(decode_line(line)[0] if isinstance(line, bytes) else line)

    def _records(self, parser: LogParser, lines: Iterable[tuple[K, str, list[str]]]
                 ) -> Iterator[tuple[list[K], str, list[str]]]:
        """Decoded lines as records: (keys of the lines, text, flags), joined where the format says lines continue."""
        if not parser.format.multiline:
            return (([key], text, flags) for key, text, flags in lines)
        cfg = self.settings.parsing
        return join_continuations(lines, parser.continues, max_lines=cfg.max_record_lines,
                                  max_chars=cfg.max_line_chars)

    def run_records(self, records: Sequence[Record], *, format_name: str, first_line: int = 1) -> Parsed:
        """Parse -> semantics -> detect for records whose header a door has already split (OTLP, Loki,
        syslog, JSON); `format_name` picks the miner settings (masking, Drain)."""
        parsed = Parsed()
        parsers: dict[str, LogParser] = {}
        for i, record in enumerate(records):
            try:
                parsed.events.append(self._parse_record(parsers, format_name, record, first_line + i))
                parsed.positions.append(i)
            except Exception as exc:
                parsed.failed.append((i, exc))
        for source, parser in parsers.items():
            parsed.merges += _take_merges(parser, source)
        return self._after_parsing(parsed)

    def _after_parsing(self, parsed: Parsed) -> Parsed:
        if self.semantics is not None:
            self.semantics.process(parsed.events)
        if self.detect is not None:
            parsed.anomalies = self.detect.process(parsed.events)
        self.maybe_save()
        return parsed

    def judge(self, events: Sequence[Event], anomalies: Sequence[Anomaly] = (), *, task: str | None = None,
              choices: Sequence[Sequence[str] | None] | None = None, defer_llm: bool = False
              ) -> list[tuple[int, Verdict]]:
        """The route stage, with the detect stage's evidence about each event: (analysis id, verdict) pairs
        in order, empty without a route stage (`logai analyze`, evaluations). `task`: default `route_task`;
        `choices`: labels per event; `defer_llm`: leave the LLM's share to the route stage's reviews."""
        task = task or self.route_task
        if self.route is None or not task or not events:
            return []
        from logai.detect.stream import evidence_for

        return self.route.analyze(events, task, choices=choices, defer_llm=defer_llm,
                                  evidence=evidence_for(events, anomalies))

    def decide(self, events: Sequence[Event], anomalies: Sequence[Anomaly] = ()) -> Decided | None:
        """The route stage on the ingest path: verdicts of `route_task`, with the detect stage's evidence, not
        stored yet (the service stores them with their events, in one transaction, then `route.record`s
        them); the LLM's share is deferred to the route stage's reviews. None without a route stage."""
        if self.route is None or not self.route_task or not events:
            return None
        from logai.detect.stream import evidence_for

        return self.route.decide(events, self.route_task, defer_llm=True, evidence=evidence_for(events, anomalies))

    def analyze_stream(self, stream: Iterable[bytes], *, source: str, format_name: str, batch: int = 256
                       ) -> Iterator[tuple[Event, Verdict]]:
        """Every record of a stream with its verdict: all four stages, `batch` records at a time (`logai analyze`)."""
        records = self._records(self.open_source(source, format_name), _decoded(stream))
        while chunk := list(islice(records, batch)):
            parse = self.open_source(source, format_name).parse
            parsed = self._after_parsing(Parsed(events=[parse(text, source, keys[0][0], keys[0][1], flags)
                                                        for keys, text, flags in chunk]))
            verdicts = self.judge(parsed.events, parsed.anomalies)
            for event, (_, verdict) in zip(parsed.events, verdicts, strict=True):
                yield event, verdict

    def flush(self) -> list[Anomaly]:
        """What the detect stage still holds (open sessions, windows), scored as it stands: at shutdown."""
        return self.detect.flush() if self.detect is not None else []

    # -- one line at a time, for the CLI, training and evaluations (parse -> semantics) --------------------
    def parse_text(self, text: str, *, source: str, format_name: str, line: int,
                   offset: int | None = None, flags: list[str] | None = None) -> Event:
        event = self.open_source(source, format_name).parse(text, source, line, offset, flags)
        if self.semantics is not None:
            self.semantics.process([event])
        return event

    def parse_bytes(self, raw: bytes, *, source: str, format_name: str, line: int,
                    offset: int | None = None) -> Event:
        text, flags = decode_line(raw)
        return self.parse_text(text, source=source, format_name=format_name, line=line, offset=offset,
                               flags=flags)

    def parse_stream(self, stream: Iterable[bytes], *, source: str, format_name: str) -> Iterator[Event]:
        """Every line of a binary stream, in order, one at a time (parse, then semantics): a line's event is
        garbage as soon as the caller is done with it, where a batch of them would live long enough for the
        collector to scan them (measured: 20% slower); the state is saved on its timer."""
        parser = self.open_source(source, format_name)
        parse = parser.parse
        semantics = self.semantics
        if parser.format.multiline:
            for count, (keys, text, flags) in enumerate(self._records(parser, _decoded(stream)), start=1):
                event = parse(text, source, keys[0][0], keys[0][1], flags)
                if semantics is not None:
                    semantics.annotate(event)
                yield event
                if count % 4096 == 0:
                    self.maybe_save()
            return
        for number, offset, raw in iter_lines(stream):
            text, flags = decode_line(raw)
            event = parse(text, source, number, offset, flags)
            if semantics is not None:
                semantics.annotate(event)
            yield event
            if number % 4096 == 0:
                self.maybe_save()

    def match(self, texts: Sequence[str], *, source: str, format_name: str) -> list[Event]:
        """Events for `texts` from `source`'s known templates and knowledge, learning nothing (`/v1/analyze`)."""
        parser = self.open_source(source, format_name)
        events = [parser.match(text, source, i + 1) for i, text in enumerate(texts)]
        if self.semantics is not None:
            self.semantics.process(events, learn=False)
        return events

    def format_of(self, source: str) -> str | None:
        """The format `source` was last read with (or saved with), if it has been seen: a door that is given
        no format reads a known source the way it was read before, so its templates stay one set."""
        if (known := self._source_format.get(source)) is not None:
            return known
        saved = self._saved.get(source)
        return str(saved["format"]) if saved and saved.get("format") else None

    def detect_format(self, sample: Iterable[bytes]) -> str:
        """The format of a file or stream, from its first lines."""
        return format_detect.detect_raw_format(sample, self.registry)

    def detect_file_format(self, path: Path) -> str:
        """The format of a file, from its first lines."""
        return format_detect.detect_file_format(path, self.registry)

    def merged_templates(self, source: str, format_name: str) -> set[str]:
        """Ids of `source`'s templates that a later, more general template has replaced (`merged_into`)."""
        miner = self.parser(format_name).miners.get(source)
        return set(miner.merged_into) if miner is not None else set()

    def finalize(self, event: Event, format_name: str) -> None:
        """Give an event of a finite input its template's final form (after every later generalisation):
        id and text, parameters taken again from its content, and semantics from the knowledge base as it
        stands (learning nothing). Unchanged when the final template no longer fits the line."""
        miner = self.parser(format_name).miners.get(event.source)
        if miner is None or event.template_id is None:
            return
        final = miner.templates.get(miner.resolve(event.template_id))
        head = message_head(event.content)[: self.settings.parsing.max_content_chars]
        values = final.extract(head) if final else None
        if final is None or values is None:
            return
        event.template_id, event.template = final.id, final.text
        event.params = [Param(value) for value in values]
        event.flags = [flag for flag in event.flags if flag != FLAG_PARAMS_UNALIGNED]
        if self.semantics is not None:
            event.conceptualized = None
            self.semantics.annotate(event, learn=False)

    def template_text(self, source: str, format_name: str, template_id: str) -> str:
        """The text that stands for `template_id` now (after any merge): the final template of a line."""
        miner = self.parser(format_name).miners[source]
        return miner.templates[miner.resolve(template_id)].text

    # -- sources and their parsers ------------------------------------------------------------------------
    def parser(self, format_name: str) -> LogParser:
        fmt = self.registry.get(format_name)  # raises UnknownFormatError listing the known ones
        parser = self.parsers.get(fmt.name)
        if parser is None:
            parser = self.parsers[fmt.name] = LogParser(fmt, self.settings.parsing, self.mask_rules)
        return parser

    def open_source(self, source: str, format_name: str) -> LogParser:
        """Prepare `source` (its miner and knowledge base, restored if saved) and return its parser."""
        parser = self.parser(format_name)
        recent = self._recent
        key = (parser.format.name, source)
        self._source_format[source] = parser.format.name
        if key in recent:
            recent.move_to_end(key)
        else:
            recent[key] = None
            if len(recent) > self.settings.parsing.max_sources:
                self._evict(*next(iter(recent)))
        if source not in parser.miners:
            self._restore(parser, source)
        return parser

    def _restore(self, parser: LogParser, source: str) -> None:
        saved = self._saved.pop(source, None)
        miner = parser.miner(source)
        if saved is None:
            return
        if saved.get("format") != parser.format.name:
            log.warning("saved templates of source %r were mined with format %r, not %r; starting fresh",
                        source, saved.get("format"), parser.format.name)
            return
        try:
            miner.load_state(saved["miner"])
            if self.semantics is not None and "kb" in saved:
                self.semantics.load_state(source, saved["kb"])
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("saved templates of source %r are invalid (%s); starting fresh", source, exc)
            parser.miners.pop(source)
            parser.miner(source)
            if self.semantics is not None:
                self.semantics.drop(source)

    def _evict(self, format_name: str, source: str) -> None:
        """Unload the least recently used source (`parsing.max_sources`): its state goes to the saved states
        (written at the next save when there is a persistence handler, so it resumes where it was)."""
        self._recent.pop((format_name, source), None)
        if self._source_format.get(source) == format_name:
            del self._source_format[source]
        miner = self.parsers[format_name].miners.pop(source, None)
        if miner is not None and self.persistence is not None:
            self._saved[source] = self._source_state(format_name, source, miner)
        if self.semantics is not None:
            self.semantics.drop(source)
        metrics.SOURCES_EVICTED.inc()
        log.warning("parsing.max_sources (%d) reached: unloaded the least recently used source %r",
                    self.settings.parsing.max_sources, source)

    def _parse_record(self, parsers: dict[str, LogParser], format_name: str, record: Record, line: int) -> Event:
        """One record through its source's parser (looked up once per batch and source, kept in `parsers`)."""
        if not record.source or len(record.source) > MAX_SOURCE_CHARS:
            raise ValueError(f"source name must be 1 to {MAX_SOURCE_CHARS} characters, got {len(record.source)}")
        parser = parsers.get(record.source)
        if parser is None:
            parser = parsers[record.source] = self.open_source(record.source, format_name)
        raw = record.raw or record.content
        if not record.content or record.content.isspace():
            return Event(raw=raw, source=record.source, line=line, timestamp=record.timestamp, level=record.level,
                         fields=record.fields, content=record.content, flags=[*record.flags, FLAG_EMPTY])
        return parser.parse_split(raw, record.content, record.source, line, None, record.timestamp, record.level,
                                  record.fields, list(record.flags))

    # -- persistence --------------------------------------------------------------------------------------
    def _source_state(self, format_name: str, source: str, miner: TemplateMiner) -> dict[str, Any]:
        """What is saved of one source: its format, its miner and its knowledge base."""
        state: dict[str, Any] = {"format": format_name, "miner": miner.to_state()}
        kb = self.semantics.to_state(source) if self.semantics is not None else None
        if kb is not None:
            state["kb"] = kb
        return state

    def save(self) -> None:
        if self.persistence is None:
            return
        sources = dict(self._saved)  # sources loaded but not seen in this run are kept as they were
        for parser in self.parsers.values():
            for source, miner in parser.miners.items():
                sources[source] = self._source_state(parser.format.name, source, miner)
        self.persistence.save_state(encode_state(sources))
        self._last_save = time.monotonic()

    def maybe_save(self) -> None:
        if self.persistence and time.monotonic() - self._last_save >= self.settings.parsing.save_interval_s:
            self.save()

    def close(self) -> None:
        self.save()


def _decoded(stream: Iterable[bytes]) -> Iterator[tuple[tuple[int, int], str, list[str]]]:
    """Each line of a binary stream as ((number, byte offset), text, flags)."""
    for number, offset, raw in iter_lines(stream):
        yield (number, offset), *decode_line(raw)


def _take_merges(parser: LogParser, source: str) -> list[tuple[str, str]]:
    """The templates of `source` that generalised since this was last asked (for the store)."""
    miner = parser.miners.get(source)
    return miner.take_merges() if miner is not None else []
