"""Candidate concept–instance pairs and their features.

SemParser's pairs are local: a concept word right before its instance (`block blk_1`), or separated by
`:`/`=`/`is` (`size: 42`, `uid=0`, `X is false`), or right after it (`42 bytes`). Every such (concept,
instance) candidate in a tokenised message gets a feature dict; `PairModel` scores them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache

from logai.semantics.types import value_type

SEPARATORS = {":", "=", "is", "are", "was", "of", "to", "``", "(", "["}
PUNCT = re.compile(r"^(?:[^\w/]+|``|'')$")
STOPWORDS = frozenset([
    "a", "an", "the", "to", "for", "from", "of", "in", "on", "at", "by", "with", "and", "or", "not", "no",
    "is", "are", "was", "were", "be", "been", "as", "it", "this", "that", "into", "over", "after", "before",
    "via", "per", "than", "then",
])


_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?").fullmatch


@lru_cache(maxsize=65_536)  # a template's message is scored once, but its tokens recur across templates
def shape(token: str) -> str:
    if PUNCT.match(token):
        return "punct"
    if _NUMBER(token):
        return "num"
    if any(c.isdigit() for c in token):
        return "alnum"
    if token.islower():
        return "lower"
    if token.isupper():
        return "upper"
    if token[:1].isupper() and token[1:].islower():
        return "title"
    return "mixed"


def is_word(token: str) -> bool:
    return not PUNCT.match(token)


def candidates(tokens: list[str]) -> Iterator[tuple[int, int, str]]:
    """(concept index, instance index, relation) for every local candidate pair."""
    n = len(tokens)
    for i, token in enumerate(tokens):
        if not is_word(token):
            continue
        if i >= 1 and is_word(tokens[i - 1]) and tokens[i - 1] not in SEPARATORS:
            yield i - 1, i, "before"
        if i >= 2 and tokens[i - 1] in SEPARATORS and is_word(tokens[i - 2]):
            yield i - 2, i, f"sep{tokens[i - 1]}"
        if i + 1 < n and is_word(tokens[i + 1]):
            yield i + 1, i, "after"


def features(tokens: list[str], ci: int, ii: int, relation: str) -> dict[str, float | str]:
    """A candidate's features, for training. `PairModel` scores the same features by parts at run time: a
    change here is a change there (tests/test_semantics.py checks that the two agree)."""
    concept, instance = tokens[ci], tokens[ii]
    before = tokens[min(ci, ii) - 1] if min(ci, ii) >= 1 else "<s>"
    after = tokens[max(ci, ii) + 1] if max(ci, ii) + 1 < len(tokens) else "</s>"
    c_low, v_type = concept.lower(), value_type(instance)
    c_shape, v_shape = shape(concept), shape(instance)
    return {
        "rel": relation,
        "c_shape": c_shape,
        "v_shape": v_shape,
        "v_type": v_type,
        "c_word": c_low,
        "c_suffix2": c_low[-2:],  # verbs (`resolved`, `see`) vs nouns (`size`, `block`)
        "c_suffix3": c_low[-3:],
        "c_stop": float(c_low in STOPWORDS),
        "v_stop": float(instance.lower() in STOPWORDS),
        "rel_v_type": f"{relation}|{v_type}",
        "rel_c_shape": f"{relation}|{c_shape}",
        "shapes": f"{c_shape}|{v_shape}",
        "before": before if before == "<s>" or PUNCT.match(before) else shape(before),
        "after": after if after == "</s>" or PUNCT.match(after) else shape(after),
        "c_len": float(min(len(concept), 20)) / 20,
        "v_len": float(min(len(instance), 40)) / 40,
        "v_digits": float(any(c.isdigit() for c in instance)),
        "c_digits": float(any(c.isdigit() for c in concept)),
    }
