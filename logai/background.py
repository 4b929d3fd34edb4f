"""Background work that must not slow the foreground: the LLM's reviews and incident summaries run on threads
the OS schedules after ingestion and the API.

Linux nice values belong to threads, not processes, so `os.setpriority` on the calling thread's native id
lowers that thread alone, and the OpenMP workers torch starts from it inherit the value. On 2 cores an LLM
generating beside ingest made one pathological line take 4.6 s instead of 0.8 s.
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)
BACKGROUND_NICE = 10


def lower_this_thread(niceness: int = BACKGROUND_NICE) -> None:
    """Make the calling thread `niceness` steps nicer (a no-op where the OS has no per-thread priority)."""
    if not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + niceness))
    except OSError as exc:  # not permitted in some sandboxes: the work still runs, at normal priority
        log.debug("could not lower the priority of %s: %s", threading.current_thread().name, exc)
