"""Log-parsing accuracy as Loghub-2.0's evaluator defines it (Jiang et al., ICSE'24; Khan et al., ICSE'22).

Inputs are two aligned sequences: the ground-truth template of every line and the predicted one.
Groups are the sets of lines sharing a template string.

- GA  grouping accuracy: share of lines whose predicted group is exactly a ground-truth group.
- FGA F1 over groups: a predicted group is correct iff it is exactly a ground-truth group.
- PA  parsing accuracy: share of lines whose predicted template equals the ground truth, as a string.
- FTA F1 over templates: a predicted group is correct iff all its lines have one ground-truth template
  and that template equals the predicted one as a string.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class ParsingScores:
    lines: int
    predicted_templates: int
    truth_templates: int
    GA: float
    PA: float
    FGA: float
    FTA: float
    PTA: float
    RTA: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def _f1(precision: float, recall: float) -> float:
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def score_parsing(truth: Sequence[str], predicted: Sequence[str]) -> ParsingScores:
    if len(truth) != len(predicted):
        raise ValueError(f"length mismatch: {len(truth)} truth vs {len(predicted)} predicted")
    if not truth:
        raise ValueError("nothing to score: no lines")
    truth_sizes = Counter(truth)
    groups: dict[str, list[str]] = defaultdict(list)
    for t, p in zip(truth, predicted, strict=True):
        groups[p].append(t)

    grouped_lines = correct_groups = correct_templates = 0
    for pred, members in groups.items():
        inside = Counter(members)
        if len(inside) == 1:
            (only,) = inside
            if truth_sizes[only] == len(members):
                grouped_lines += len(members)
                correct_groups += 1
            if only == pred:
                correct_templates += 1
    pa = sum(t == p for t, p in zip(truth, predicted, strict=True)) / len(truth)
    pga, rga = correct_groups / len(groups), correct_groups / len(truth_sizes)
    pta, rta = correct_templates / len(groups), correct_templates / len(truth_sizes)
    return ParsingScores(
        lines=len(truth),
        predicted_templates=len(groups),
        truth_templates=len(truth_sizes),
        GA=grouped_lines / len(truth),
        PA=pa,
        FGA=_f1(pga, rga),
        FTA=_f1(pta, rta),
        PTA=pta,
        RTA=rta,
    )
