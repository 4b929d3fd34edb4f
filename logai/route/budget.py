"""LLM call budget: at most `per_second` calls in any one-second window (token bucket, bursts up to that)
and `per_day` calls per UTC day. `try_acquire` never blocks: over budget, the small model's verdict stands."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from logai import metrics


class LlmBudget:
    def __init__(self, per_second: float | None = None, per_day: int | None = None,
                 clock: Callable[[], float] = time.time, use: str = "route"):
        self.use = use  # what the calls are for, in logai_llm_budget_refused_total
        self.per_second = per_second
        self.per_day = per_day
        self.clock = clock
        self._tokens = float(per_second or 0)
        self._refilled = clock()
        self._day = int(clock() // 86400)
        self.used_today = 0
        self._lock = threading.Lock()
        if per_day is not None:
            metrics.LLM_BUDGET_DAY.labels(use=use).set(per_day)

    def try_acquire(self) -> bool:
        with self._lock:
            now = self.clock()
            day = int(now // 86400)
            if day != self._day:
                self._day, self.used_today = day, 0
            if self.per_day is not None and self.used_today >= self.per_day:
                metrics.LLM_BUDGET_REFUSED.labels(use=self.use, window="day").inc()
                return False
            if self.per_second is not None:
                self._tokens = min(self.per_second, self._tokens + (now - self._refilled) * self.per_second)
                self._refilled = now
                if self._tokens < 1.0:
                    metrics.LLM_BUDGET_REFUSED.labels(use=self.use, window="second").inc()
                    return False
                self._tokens -= 1.0
            self.used_today += 1
            metrics.LLM_BUDGET_USED.labels(use=self.use).set(self.used_today)
            return True
