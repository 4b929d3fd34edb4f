"""The `Backend` interface every LLM implementation honours, so the router and the batch runner do not care
whether the model runs in-process (`LocalBackend`) or behind vLLM / SGLang / `logai llm serve`
(`OpenAICompatBackend`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from logai.llm.types import Constraint, GenerationRequest, GenerationResult, LabelScores, SamplingParams


class Backend(ABC):
    """Generation with optional constraints, and single-pass label scoring."""

    name: str = "backend"

    @abstractmethod
    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """Answer a batch of requests, results in request order. Raises `LLMError` when it cannot."""

    @abstractmethod
    def score_labels(self, messages: list[dict[str, str]], labels: Sequence[str]) -> LabelScores:
        """Probabilities of each label as the assistant's answer to `messages`, from one forward pass."""

    def chat(self, messages: list[dict[str, str]], *, constraint: Constraint | None = None,
             **sampling) -> GenerationResult:
        """One chat request; keyword arguments are `SamplingParams` fields."""
        request = GenerationRequest(messages=messages, sampling=SamplingParams(**sampling), constraint=constraint)
        return self.generate([request])[0]

    def cancel(self) -> None:  # noqa: B027 - optional hook
        """Make generations in progress end soon with `LLMError`, and later ones fail at once: called first
        when the process shuts down, so no thread is left inside the model."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release models, connections and threads."""
