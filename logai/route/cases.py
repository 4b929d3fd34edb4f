"""The error-prone case library: logs the small model got wrong or was unsure about, with the gold label and a
short reason, retrieved by meaning (MiniLM vectors in a FAISS index) to show the LLM the most similar past
mistakes.

Flat inner-product search (exact) for small libraries; past `hnsw_threshold` cases the index is rebuilt as
HNSW. Cases are added online (operator feedback) without a rebuild. `save` writes the index and the
records (JSON lines) side by side; `load` refuses a pair that does not match.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np


@dataclass
class Case:
    log: str
    template: str  # conceptualized template of the log
    label: str  # the gold answer
    small_model_label: str | None = None
    reason: str = ""
    task: str = "anomaly"
    meta: dict[str, Any] = field(default_factory=dict)

    def key_text(self) -> str:
        """What is embedded: the template carries the meaning; the raw log adds the specifics."""
        return f"{self.template}\n{self.log}" if self.template and self.template != self.log else self.log


class CaseLibrary:
    def __init__(self, embedder: Any, hnsw_threshold: int = 50_000, hnsw_m: int = 32):
        self.embedder = embedder
        self.hnsw_threshold = hnsw_threshold
        self.hnsw_m = hnsw_m
        self.cases: list[Case] = []
        self.index = faiss.IndexFlatIP(embedder.dim)
        self._lock = threading.Lock()  # feedback adds while the router searches

    def __len__(self) -> int:
        return len(self.cases)

    @property
    def kind(self) -> str:
        return "hnsw" if isinstance(self.index, faiss.IndexHNSWFlat) else "flat"

    def add(self, cases: list[Case]) -> None:
        """Add cases (online: no rebuild, except once when the library outgrows flat search)."""
        if not cases:
            return
        vectors = self.embedder.encode([c.key_text() for c in cases]).astype(np.float32)
        with self._lock:
            self.cases.extend(cases)
            if self.kind == "flat" and len(self.cases) > self.hnsw_threshold:
                self._rebuild_hnsw(vectors)
            else:
                self.index.add(vectors)

    def _rebuild_hnsw(self, new_vectors: np.ndarray) -> None:
        dim = new_vectors.shape[1]
        old = self.index.reconstruct_n(0, self.index.ntotal) if self.index.ntotal else np.zeros((0, dim))
        index = faiss.IndexHNSWFlat(dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.add(np.vstack([old, new_vectors]).astype(np.float32))
        self.index = index

    def search(self, text: str, k: int = 5, task: str | None = None) -> list[tuple[Case, float]]:
        """The k most similar cases (cosine similarity), optionally of one task only."""
        if not self.cases:
            return []
        vector = self.embedder.encode([text]).astype(np.float32)
        wanted = k if task is None else min(len(self.cases), k * 4)
        with self._lock:
            scores, ids = self.index.search(vector, min(wanted, len(self.cases)))
        found = [(self.cases[i], float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
        if task is not None:
            found = [(c, s) for c, s in found if c.task == task]
        return found[:k]

    def sample(self, k: int, task: str | None = None, seed: int = 0) -> list[Case]:
        """k cases drawn at random (the few-shot baseline retrieval is measured against)."""
        pool = [c for c in self.cases if task is None or c.task == task]
        return random.Random(seed).sample(pool, min(k, len(pool)))

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(folder / "cases.faiss"))
        with open(folder / "cases.jsonl", "w") as handle:
            for case in self.cases:
                handle.write(json.dumps(asdict(case)) + "\n")
        return folder

    @classmethod
    def load(cls, folder: Path, embedder: Any, hnsw_threshold: int = 50_000) -> CaseLibrary:
        try:
            index = faiss.read_index(str(folder / "cases.faiss"))
            records = [json.loads(line) for line in (folder / "cases.jsonl").read_text().splitlines() if line]
        except (OSError, RuntimeError, ValueError) as exc:
            raise ValueError(f"cannot read the case library in {folder}: {exc}") from exc
        if index.ntotal != len(records) or index.d != embedder.dim:
            raise ValueError(f"{folder}: index holds {index.ntotal} vectors of {index.d} dims for "
                             f"{len(records)} cases and a {embedder.dim}-dim encoder")
        library = cls(embedder, hnsw_threshold)
        library.index = index
        library.cases = [Case(**record) for record in records]
        return library
