"""`build_backend(config)`: the configured LLM backend, so no caller picks an implementation itself."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from logai.config import LlmConfig
from logai.llm.backend import Backend
from logai.llm.types import GenerationRequest, GenerationResult, LabelScores, LLMError


class LazyBackend(Backend):
    """The configured backend, built on first use: a service whose small model is sure of everything never
    loads the LLM (the local one costs seconds and hundreds of MB at start-up)."""

    def __init__(self, config: LlmConfig):
        self.config = config
        self.name = config.model or config.backend
        self._backend: Backend | None = None
        self._lock = threading.Lock()
        self._cancelled = False
        self._closing = False

    def backend(self) -> Backend:
        with self._lock:
            if self._cancelled:
                raise LLMError("the LLM is closing")
            if self._backend is None:
                self._backend = build_backend(self.config)
                if self._cancelled:  # cancelled while it loaded
                    self._backend.cancel()
            backend = self._backend
        if self._closing:  # closed while it loaded: the closer did not wait, so the loader closes it
            self.close()
            raise LLMError("the LLM is closing")
        return backend

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        return self.backend().generate(requests)

    def score_labels(self, messages: list[dict[str, str]], labels: Sequence[str]) -> LabelScores:
        return self.backend().score_labels(messages, labels)

    def cancel(self) -> None:
        self._cancelled = True  # a load in progress holds the lock: what waits on it fails, not loads
        backend = self._backend
        if backend is not None:
            backend.cancel()

    def close(self) -> None:
        """Close the loaded backend; a load in progress is not waited for (it cannot be interrupted, and takes
        seconds): its loader closes what it loaded."""
        self._closing = True
        if not self._lock.acquire(blocking=False):
            return
        try:
            if self._backend is not None:
                self._backend.close()
                self._backend = None
        finally:
            self._lock.release()


def build_backend(config: LlmConfig) -> Backend:
    if config.backend == "openai":
        from logai.llm.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(config.base_url, config.model or "default", api_key=config.api_key,
                                   timeout_s=config.timeout_s, max_retries=config.max_retries,
                                   max_concurrency=config.max_concurrency,
                                   failure_threshold=config.failure_threshold, reset_after_s=config.reset_after_s)
    from logai.llm.local import LocalBackend

    return LocalBackend(config.model, device=config.device, dtype=config.dtype, speculation=config.speculation,
                        cache_dir=config.cache_dir)
