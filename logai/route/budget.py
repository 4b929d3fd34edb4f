"""LLM call budget: at most `per_second` calls in any one-second window (token bucket, bursts up to that)
and `per_day` calls per UTC day. `try_acquire` never blocks: over budget, the small model's verdict stands."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class LlmBudget:
    def __init__(self, per_second: float | None = None, per_day: int | None = None,
                 clock: Callable[[], float] = time.time):
        self.per_second = per_second
        self.per_day = per_day
        self.clock = clock
        self._tokens = float(per_second or 0)
        self._refilled = clock()
        self._day = int(clock() // 86400)
        self.used_today = 0
        self._lock = threading.Lock()

    def try_acquire(self) -> bool:
        with self._lock:
            now = self.clock()
            day = int(now // 86400)
            if day != self._day:
                self._day, self.used_today = day, 0
            if self.per_day is not None and self.used_today >= self.per_day:
                return False
            if self.per_second is not None:
                self._tokens = min(self.per_second, self._tokens + (now - self._refilled) * self.per_second)
                self._refilled = now
                if self._tokens < 1.0:
                    return False
                self._tokens -= 1.0
            self.used_today += 1
            return True
