"""`build_backend(config)`: the configured LLM backend, so no caller picks an implementation itself."""

from __future__ import annotations

from logai.config import LlmConfig
from logai.llm.backend import Backend


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
