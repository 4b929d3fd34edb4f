"""The error-prone case library: logs the small model got wrong or was unsure about, with the gold label and a
short reason, retrieved by meaning (MiniLM vectors in a FAISS index) to show the LLM the most similar past
mistakes.

Flat inner-product search (exact) for small libraries; past `hnsw_threshold` cases the index is rebuilt as
HNSW. Cases are added online (operator feedback) without a rebuild. `save` writes the records (JSON lines)
and their vectors (.npy, no pickle) with a sha256 manifest; `load` checks it and rebuilds the index.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

from logai.checksums import hashes, verify

if TYPE_CHECKING:
    from logai.slm.embeddings import Embedder

FORMAT_VERSION = 2  # 1 was a FAISS index file, read without a check
VECTORS, RECORDS, MANIFEST = "cases.npy", "cases.jsonl", "manifest.json"


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
    def __init__(self, embedder: Embedder, hnsw_threshold: int = 50_000, hnsw_m: int = 32):
        self.embedder = embedder
        self.hnsw_threshold = hnsw_threshold
        self.hnsw_m = hnsw_m
        self.cases: list[Case] = []
        self.index: faiss.Index = faiss.IndexFlatIP(embedder.dim)
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

    def replace(self, cases: list[Case]) -> None:
        """Hold exactly `cases` (feedback undone leaves the library): one rebuild of the index."""
        vectors = self.embedder.encode([c.key_text() for c in cases]).astype(np.float32) if cases else \
            np.zeros((0, self.embedder.dim), dtype=np.float32)
        with self._lock:
            self.cases = list(cases)
            self.index = faiss.IndexFlatIP(self.embedder.dim)
            if len(cases) > self.hnsw_threshold:
                self._rebuild_hnsw(vectors)
            elif len(cases):
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
        """The cases as JSON lines and their vectors as a plain .npy array, with the sha256 of both: nothing
        that a crafted file could use to run code or crash a parser (the FAISS index is rebuilt on load)."""
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            vectors = self.index.reconstruct_n(0, self.index.ntotal) if self.index.ntotal else \
                np.zeros((0, self.embedder.dim), dtype=np.float32)
            cases = list(self.cases)
        np.save(folder / VECTORS, vectors.astype(np.float32), allow_pickle=False)
        with open(folder / RECORDS, "w") as handle:
            for case in cases:
                handle.write(json.dumps(asdict(case)) + "\n")
        manifest = {"format": FORMAT_VERSION, "cases": len(cases), "dim": int(vectors.shape[1]),
                    "files": hashes(folder, [VECTORS, RECORDS])}
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
        (folder / "cases.faiss").unlink(missing_ok=True)  # written by older versions
        return folder

    @classmethod
    def load(cls, folder: Path, embedder: Embedder, hnsw_threshold: int = 50_000) -> CaseLibrary:
        """A library saved by `save`, once its files have the hashes its manifest records."""
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
            if manifest.get("format") != FORMAT_VERSION:
                raise ValueError(f"case library format {manifest.get('format')!r}, expected {FORMAT_VERSION}")
            verify(folder, manifest["files"])
            vectors = np.load(folder / VECTORS, allow_pickle=False)
            records = [json.loads(line) for line in (folder / RECORDS).read_text().splitlines() if line]
            cases = [Case(**record) for record in records]
        except (OSError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"cannot read the case library in {folder}: {exc} (save it again, or retrain "
                             "the router)") from exc
        if vectors.ndim != 2 or len(vectors) != len(cases) or vectors.shape[1] != embedder.dim:
            raise ValueError(f"{folder}: {vectors.shape} vectors for {len(cases)} cases and a "
                             f"{embedder.dim}-dim encoder")
        library = cls(embedder, hnsw_threshold)
        library.cases = cases
        if len(cases) > hnsw_threshold:
            library._rebuild_hnsw(vectors.astype(np.float32))
        elif len(cases):
            library.index.add(vectors.astype(np.float32))
        return library
