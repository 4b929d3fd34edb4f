"""The verdict cache: one verdict per (task, label set, small-model input). The small-model input already
folds identifiers and measurements into placeholders (`logai.slm.inputs`), so a repeated line costs a dict
lookup. LRU-bounded."""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any

from cachetools import LRUCache


class VerdictCache:
    def __init__(self, max_size: int = 100_000):
        self.max_size = max_size
        self._items: LRUCache[Hashable, Any] = LRUCache(maxsize=max_size)
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            value = self._items.get(key)  # a hit becomes the most recently used
            if value is None:
                self.misses += 1
                return None
            self.hits += 1
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value

    def forget(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)

    def invalidate(self, task: str | None = None) -> None:
        """Forget every verdict (of one task): the library or the model changed."""
        with self._lock:
            if task is None:
                self._items.clear()
            else:
                for key in [k for k in self._items if isinstance(k, tuple) and k and k[0] == task]:
                    del self._items[key]
