"""LLM call budget: at most `per_second` calls in any one-second window (token bucket, bursts up to that)
and `per_day` calls per UTC day. `try_acquire` never blocks: over budget, the small model's verdict stands.

The second's window is each process's own; the day's is the deployment's once `share`d with the store
(`LlmCallCounter`): `serve` and every `daemon` on it spend one daily budget, which a restart does not renew.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from logai import metrics

log = logging.getLogger(__name__)


class DayCounter(Protocol):
    def take(self, use: str, day: int, cap: int | None) -> int | None: ...

    def used(self, use: str, day: int) -> int: ...


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
        self.counter: DayCounter | None = None
        self._lock = threading.Lock()
        if per_day is not None:
            metrics.LLM_BUDGET_DAY.labels(use=use).set(per_day)

    def share(self, counter: DayCounter) -> LlmBudget:
        """Count the day's calls in `counter` (the store), with every process that shares it; the day's count
        in /metrics is then the deployment's, read when scraped."""
        self.counter = counter
        metrics.LLM_BUDGET_USED.labels(use=self.use).set_function(self._used_now)
        return self

    def _used_now(self) -> float:
        assert self.counter is not None  # read only once shared
        try:
            return float(self.counter.used(self.use, int(self.clock() // 86400)))
        except Exception:  # the store down: this process's own count
            return float(self.used_today)

    def try_acquire(self) -> bool:
        with self._lock:
            now = self.clock()
            day = int(now // 86400)
            if day != self._day:
                self._day, self.used_today = day, 0
            if self.per_second is not None:
                self._tokens = min(self.per_second, self._tokens + (now - self._refilled) * self.per_second)
                self._refilled = now
                if self._tokens < 1.0:
                    metrics.LLM_BUDGET_REFUSED.labels(use=self.use, window="second").inc()
                    return False
            if not self._take_from_day(day):
                metrics.LLM_BUDGET_REFUSED.labels(use=self.use, window="day").inc()
                return False
            if self.per_second is not None:
                self._tokens -= 1.0
            metrics.LLM_BUDGET_USED.labels(use=self.use).set(self.used_today)
            return True

    def _take_from_day(self, day: int) -> bool:
        """One call of the day's budget: the store's where shared (this process's count if it is down)."""
        if self.counter is not None:
            try:
                counted = self.counter.take(self.use, day, self.per_day)
            except Exception as exc:
                log.warning("could not count an LLM call in the store (counted here alone): %s", exc)
            else:
                if counted is None:
                    return False
                self.used_today = counted
                return True
        if self.per_day is not None and self.used_today >= self.per_day:
            return False
        self.used_today += 1
        return True
