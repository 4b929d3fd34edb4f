"""Text metrics of LogEval's open-ended tasks: template accuracy and edit distance for parsing, ROUGE-1/2/L
for summaries, and the spread of a score across LogEval's 15 prompts.

Tokens: whitespace words, except CJK text, where each character is a token (Chinese has no spaces).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
_SPACES = re.compile(r"\s+")


def normalize_template(text: str) -> str:
    """Whitespace collapsed, runs of adjacent wildcards folded to one (`<*> <*>` and `<*><*>` are `<*>`)."""
    text = _SPACES.sub(" ", text.strip())
    previous = None
    while previous != text:
        previous = text
        text = text.replace("<*><*>", "<*>").replace("<*> <*>", "<*>")
    return text


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance in characters (insert, delete, substitute: cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def parsing_scores(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """LogEval parsing: accuracy = share of templates equal to gold after normalisation; mean edit distance."""
    if len(gold) != len(predicted):
        raise ValueError(f"{len(gold)} gold templates but {len(predicted)} predictions")
    if not gold:
        return {"accuracy": 0.0, "edit_distance": 0.0}
    pairs = [(normalize_template(g), normalize_template(p)) for g, p in zip(gold, predicted, strict=True)]
    return {"accuracy": sum(g == p for g, p in pairs) / len(pairs),
            "edit_distance": sum(edit_distance(g, p) for g, p in pairs) / len(pairs)}


def tokens(text: str) -> list[str]:
    out: list[str] = []
    for word in text.lower().split():
        if _CJK.search(word):
            out.extend(ch for ch in word if not ch.isspace())
        else:
            out.append(word)
    return out


@dataclass(frozen=True)
class Rouge:
    rouge1: float
    rouge2: float
    rougeL: float


def _f1(overlap: float, n_pred: int, n_gold: int) -> float:
    if not overlap or not n_pred or not n_gold:
        return 0.0
    precision, recall = overlap / n_pred, overlap / n_gold
    return 2 * precision * recall / (precision + recall)


def _ngrams(words: list[str], n: int) -> Counter[tuple[str, ...]]:
    return Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))


def _lcs(a: list[str], b: list[str]) -> int:
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge(reference: str, candidate: str) -> Rouge:
    """ROUGE-1, ROUGE-2 and ROUGE-L F1 of one candidate against one reference."""
    ref, cand = tokens(reference), tokens(candidate)
    scores = []
    for n in (1, 2):
        r, c = _ngrams(ref, n), _ngrams(cand, n)
        scores.append(_f1(sum((r & c).values()), sum(c.values()), sum(r.values())))
    return Rouge(scores[0], scores[1], _f1(_lcs(ref, cand), len(cand), len(ref)))


def summary_scores(references: Sequence[str], candidates: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1/2/L F1 over items (the score LogSummary and LogEval report for summaries)."""
    if len(references) != len(candidates):
        raise ValueError(f"{len(references)} references but {len(candidates)} summaries")
    if not references:
        return {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    all_scores = [rouge(r, c) for r, c in zip(references, candidates, strict=True)]
    return {name: sum(getattr(s, name) for s in all_scores) / len(all_scores)
            for name in ("rouge1", "rouge2", "rougeL")}


def spread(per_prompt: Mapping[str, float]) -> dict[str, float]:
    """Mean, population variance and range of one score across prompts (LogEval's prompt sensitivity)."""
    values = list(per_prompt.values())
    if not values:
        return {"mean": 0.0, "variance": 0.0, "min": 0.0, "max": 0.0}
    return {"mean": statistics.fmean(values), "variance": statistics.pvariance(values),
            "min": min(values), "max": max(values)}
