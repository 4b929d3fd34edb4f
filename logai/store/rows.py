"""Events turned into the store's row tuples.

Kept apart from the SQL so the work can be split: the daemon prepares rows while it parses, and a writer
process (`logai.store.writer`) only runs the inserts. Prepared batches are plain tuples of str/int/float,
which pickle and unpickle about ten times faster than `Event` objects.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from logai.events import Event
from logai.timestamps import to_epoch

# column order of a prepared event row (the id is assigned at insert time)
EVENT_COLUMNS = ("ingest_key", "source", "line", "ts", "ingested_at", "level", "template_id", "template",
                 "conceptualized", "content", "raw", "fields", "params", "flags")
PARAM_COLUMNS = ("event_id", "position", "value", "type", "concept")
ANALYSIS_COLUMNS = ("event_id", "task", "label", "model", "confidence", "provenance", "created_at")
KEY, SOURCE, TS, LEVEL, TEMPLATE_ID, TEMPLATE = 0, 1, 3, 5, 6, 7  # positions used when counting templates and levels


@dataclass(frozen=True)
class PreparedBatch:
    rows: list[tuple]  # one per event, in EVENT_COLUMNS order
    params: list[tuple]  # (row index in `rows`, position, value, type, concept)
    # verdicts stored with their events, in one transaction: (row index, *ANALYSIS_COLUMNS[1:])
    analyses: list[tuple] = field(default_factory=list)
    merges: list[tuple[str, str]] = field(default_factory=list)  # (template id, the id it generalised into)

    def __len__(self) -> int:
        return len(self.rows)


# Parameters indexed for `value=`/`concept=` search, per event; all of them stay in the event's `params`
# JSON. A 9 KB line of 1,450 variables wrote 1,450 index rows: a tenth of a second and ~40 KB of store each.
MAX_INDEXED_PARAMS = 64


def _dumps(value) -> str:
    return orjson.dumps(value).decode()


def provenance_json(value: Any) -> str:
    """A verdict's provenance as JSON: what `json.dumps` took before (numbers from numpy, integer keys) too."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


def analysis_row(row: dict[str, Any], now: float) -> tuple:
    """A verdict (task, label, model, confidence, provenance) as ANALYSIS_COLUMNS[1:], created `now`."""
    return (row["task"], row["label"][:128], row["model"][:128], row.get("confidence"),
            provenance_json(row["provenance"]), now)


def prepare(batch: Sequence[tuple[str, Event]], now: float | None = None,
            analyses: Sequence[tuple[int, dict[str, Any]]] = (),
            merges: Sequence[tuple[str, str]] = ()) -> PreparedBatch:
    """(ingest key, event) pairs to row tuples; events without a timestamp take `now` (the ingest time).
    `analyses`: (index in `batch`, verdict row) pairs, stored with their event when it is new; `merges`:
    templates that generalised while the batch was parsed (old id, new id), recorded in the same write."""
    now = time.time() if now is None else now
    rows: list[tuple] = []
    params: list[tuple] = []
    for index, (key, ev) in enumerate(batch):
        ts = to_epoch(ev.timestamp)
        rows.append((key, ev.source, ev.line, ts if ts is not None else now, now, ev.level, ev.template_id,
                     ev.template, ev.conceptualized, ev.content, ev.raw, _dumps(ev.fields),
                     _dumps([p.to_dict() for p in ev.params]), _dumps(ev.flags)))
        params.extend((index, position, p.value[:512], p.type, p.concept[:128] if p.concept else None)
                      for position, p in enumerate(ev.params[:MAX_INDEXED_PARAMS]))
    return PreparedBatch(rows, params, [(index, *analysis_row(row, now)) for index, row in analyses], list(merges))
