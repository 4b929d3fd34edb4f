"""Matching a message against a template and reading its parameters.

Short-lived templates are common (a new cluster's template usually generalises after a few lines), and
compiling a regex per template costs more than using it a few times. So a template is matched by
`str.find` over its literal pieces until it has been used `COMPILE_AFTER` times, then by a compiled
regex. Both give the same answer: the leftmost-shortest assignment of the wildcards, as a lazy regex does.
"""

from __future__ import annotations

import re

WILDCARD = "<*>"
COMPILE_AFTER = 64  # a compile (~150-300 us) is worth ~2x faster matches only for templates used often
_HAS_SPACE = re.compile(r"\s").search


def find_params(pieces: list[str], content: str, within_tokens: bool) -> list[str] | None:
    """Values of the wildcards between the literal `pieces`, or None. `within_tokens`: no whitespace."""
    first, last = pieces[0], pieces[-1]
    if not content.startswith(first):
        return None
    if len(pieces) == 1:
        return [] if content == first else None
    end = len(content) - len(last)
    if end < len(first) or not content.endswith(last):
        return None
    pos, values = len(first), []
    for piece in pieces[1:-1]:
        found = content.find(piece, pos, end)
        if found < 0:
            return None
        values.append(content[pos:found])
        pos = found + len(piece)
    values.append(content[pos:end])
    if within_tokens and any(_HAS_SPACE(v) for v in values):
        return None
    return values


def token_regex(text: str) -> re.Pattern[str]:
    """`<*>` as lazy text inside one token; literal text as is; runs of spaces as `\\s+`."""
    parts = [r"(\S*?)".join(re.escape(p) for p in token.split(WILDCARD)) for token in text.split(" ")]
    return re.compile("^" + r"\s+".join(parts) + "$")
