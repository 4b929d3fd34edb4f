"""Matching a message against a template and reading its parameters, in time linear in the message.

A template's literal pieces are found left to right with `str.find`, each at its leftmost place. For
patterns whose only operator is "any text here" (a `<*>`), greedy leftmost matching finds a match
whenever one exists, and it picks the same values as a lazy regex (the leftmost-shortest assignment),
without the backtracking that made a regex with hundreds of lazy groups run for minutes on a long line
that does not fit. Literal whitespace stands for any run of blanks: when the message has runs or tabs,
it is matched in a collapsed copy and the spans are mapped back. (One difference from the regex: an empty
value between two blanks, `a <*> b` against `a   b`, does not align; such a line is flagged unaligned.)

Short-lived templates are common, and compiling a regex per template costs more than using it a few
times. A hot template (`COMPILE_AFTER` uses) gets a compiled token regex for short messages, where it
is ~2x faster than `find`; its groups cannot leave a token, so its cost on `SHORT` characters is small.
"""

from __future__ import annotations

import re
from functools import lru_cache

from logai.events import WILDCARD

COMPILE_AFTER = 64  # a compile (~150-300 us) is worth ~2x faster matches only for templates used often
SHORT = 512  # messages up to this length may use a hot template's compiled regex
_HAS_SPACE = re.compile(r"\s").search
_BLANK_RUN = re.compile(r"\s+")
_ODD_BLANKS = re.compile(r"\s\s|[^\S ]").search  # anything but single spaces


def collapse(text: str) -> tuple[str, list[int] | None]:
    """`text` with every run of blanks as one space, and the original index of each kept character
    (plus the end); None when nothing changed."""
    if _ODD_BLANKS(text) is None:
        return text, None
    return _collapse_runs(text)


@lru_cache(maxsize=1)  # a message is tried against several templates in a row, and each try asks again
def _collapse_runs(text: str) -> tuple[str, list[int]]:
    out: list[str] = []
    offsets: list[int] = []
    pos = 0
    for run in _BLANK_RUN.finditer(text):
        out.append(text[pos:run.start()])
        offsets.extend(range(pos, run.start()))
        out.append(" ")
        offsets.append(run.start())
        pos = run.end()
    out.append(text[pos:])
    offsets.extend(range(pos, len(text)))
    offsets.append(len(text))
    return "".join(out), offsets


def find_spans(pieces: list[str], content: str) -> list[tuple[int, int]] | None:
    """The (start, end) of each wildcard between the literal `pieces` (exact text), or None."""
    first, last = pieces[0], pieces[-1]
    if not content.startswith(first):
        return None
    if len(pieces) == 1:
        return [] if content == first else None
    end = len(content) - len(last)
    if end < len(first) or not content.endswith(last):
        return None
    pos, spans = len(first), []
    for piece in pieces[1:-1]:
        found = content.find(piece, pos, end)
        if found < 0:
            return None
        spans.append((pos, found))
        pos = found + len(piece)
    spans.append((pos, end))
    return spans


def align(pieces: list[str], content: str) -> list[tuple[int, int]] | None:
    """Wildcard spans in `content`, where a blank in a piece matches any run of blanks. Linear time."""
    collapsed, offsets = collapse(content)
    if offsets is None:
        return find_spans(pieces, content)
    spans = find_spans([collapse(p)[0] for p in pieces], collapsed)
    if spans is None:
        return None
    return [(offsets[s], offsets[e]) for s, e in spans]


def find_params(pieces: list[str], content: str, within_tokens: bool) -> list[str] | None:
    """Values of the wildcards between the literal `pieces`, or None. `within_tokens`: no whitespace."""
    spans = align(pieces, content)
    if spans is None:
        return None
    values = [content[s:e] for s, e in spans]
    if within_tokens and _HAS_SPACE("".join(values)) is not None:  # one search, not one per value
        return None
    return values


def token_regex(text: str) -> re.Pattern[str]:
    """`<*>` as lazy text inside one token; literal text as is; runs of spaces as `\\s+`."""
    parts = [r"(\S*?)".join(re.escape(p) for p in token.split(WILDCARD)) for token in text.split(" ")]
    return re.compile("^" + r"\s+".join(parts) + "$")
