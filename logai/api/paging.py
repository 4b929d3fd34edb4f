"""Bounds on what one response may carry: 64-bit ids and offsets, long fields cut with a flag, and a page that
stops before `api.max_response_bytes` (ten stored 10 MB lines were a 200 MB answer to `limit=10`)."""

from __future__ import annotations

from typing import Any

from logai.store.store import MAX_ID

MAX_OFFSET = 10**9  # deeper pages: use filters or the cursor
FLAG_RESPONSE_TRUNCATED = "response_truncated"
_LONG_FIELDS = ("content", "raw")


def bounded_page(rows: list[dict[str, Any]], next_cursor: str | None, max_field_chars: int,
                 max_bytes: int) -> tuple[list[dict[str, Any]], str | None]:
    """Cut `content` and `raw` past `max_field_chars` (flagging the event) and end the page early once its
    text passes `max_bytes`; then the cursor points after the last event returned."""
    out: list[dict[str, Any]] = []
    size = 0
    for row in rows:
        cut = False
        for name in _LONG_FIELDS:
            value = row.get(name)
            if isinstance(value, str) and len(value) > max_field_chars:
                row[name] = value[:max_field_chars]
                cut = True
        if cut:
            row["flags"] = [*row.get("flags", []), FLAG_RESPONSE_TRUNCATED]
        size += sum(len(row.get(name) or "") for name in _LONG_FIELDS) + 512  # + the rest of the row, roughly
        if out and size > max_bytes:
            last = out[-1]
            return out, f"{last['ts']!r},{last['id']}"
        out.append(row)
    return out, next_cursor


__all__ = ["FLAG_RESPONSE_TRUNCATED", "MAX_ID", "MAX_OFFSET", "bounded_page"]
