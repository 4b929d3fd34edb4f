"""Features of a group of events (a session or a window): template-id sequences to count vectors.

`EventCounter` is fitted on training sequences to fix its vocabulary (the feature schema saved with every
detector); template ids it has not seen are counted in one `unseen` column instead of being dropped, so a
new template still moves the vector. Optional TF-IDF weighting (as in Loglizer's PCA setting).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

Sequence_ = Sequence[str | int]
UNSEEN = "<unseen>"


class EventCounter:
    def __init__(self, tf_idf: bool = False):
        self.tf_idf = tf_idf

    def fit(self, sequences: Sequence[Sequence_]) -> EventCounter:
        vocab = sorted({str(t) for seq in sequences for t in seq})
        self.vocabulary_ = {t: i for i, t in enumerate([*vocab, UNSEEN])}
        if self.tf_idf:
            df = Counter(str(t) for seq in sequences for t in set(seq))
            n = max(1, len(sequences))
            self.idf_ = np.array([math.log(n / (1 + df.get(t, 0))) + 1 for t in [*vocab, UNSEEN]])
        return self

    def transform(self, sequences: Sequence[Sequence_]) -> np.ndarray:
        unseen = self.vocabulary_[UNSEEN]
        matrix = np.zeros((len(sequences), len(self.vocabulary_)), dtype=np.float64)
        for row, seq in enumerate(sequences):
            for token in seq:
                matrix[row, self.vocabulary_.get(str(token), unseen)] += 1
        if self.tf_idf:
            matrix *= self.idf_
        return matrix

    def fit_transform(self, sequences: Sequence[Sequence_]) -> np.ndarray:
        return self.fit(sequences).transform(sequences)

    @property
    def schema(self) -> list[str]:
        return list(self.vocabulary_)
