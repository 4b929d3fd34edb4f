"""Requests and results shared by every LLM backend (in-process, OpenAI-compatible server).

Plain dataclasses so a request can cross a process or HTTP boundary unchanged. A `Constraint` says what
the model may output; backends enforce it (xgrammar in-process, `response_format` / `structured_outputs`
on a server).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ConstraintKind = Literal["json_schema", "choice", "regex", "ebnf"]


class LLMError(RuntimeError):
    """The LLM could not answer: server down, timed out, circuit open, or output that breaks the contract."""


@dataclass(frozen=True)
class Constraint:
    """What the output must match: a JSON schema (dict), a choice among strings, a regex, or an EBNF grammar."""

    kind: ConstraintKind
    spec: dict[str, Any] | list[str] | str

    @classmethod
    def json_schema(cls, schema: dict[str, Any]) -> Constraint:
        return cls("json_schema", schema)

    @classmethod
    def choice(cls, options: list[str]) -> Constraint:
        if not options:
            raise ValueError("a choice constraint needs at least one option")
        return cls("choice", list(options))

    @classmethod
    def regex(cls, pattern: str) -> Constraint:
        return cls("regex", pattern)

    @classmethod
    def ebnf(cls, grammar: str) -> Constraint:
        return cls("ebnf", grammar)

    def key(self) -> str:
        """A stable cache key (compiled grammars are cached per constraint)."""
        import orjson

        return self.kind + ":" + orjson.dumps(self.spec, option=orjson.OPT_SORT_KEYS).decode()


@dataclass
class SamplingParams:
    max_tokens: int = 256
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    top_k: int = 0  # 0: off
    seed: int | None = None
    stop: list[str] = field(default_factory=list)
    top_logprobs: int = 0  # also report this many most likely alternatives per generated token

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0.0


@dataclass
class GenerationRequest:
    """A chat (`messages`) or a raw completion (`prompt`); exactly one of them."""

    messages: list[dict[str, str]] | None = None
    prompt: str | None = None
    sampling: SamplingParams = field(default_factory=SamplingParams)
    constraint: Constraint | None = None

    def __post_init__(self) -> None:
        if (self.messages is None) == (self.prompt is None):
            raise ValueError("give either messages (chat) or prompt (completion), not both or neither")


@dataclass
class Timings:
    prompt_s: float = 0.0  # prefill
    decode_s: float = 0.0
    total_s: float = 0.0


@dataclass
class GenerationResult:
    text: str
    token_ids: list[int]
    logprobs: list[float]  # of each chosen token under the (constrained) target distribution
    finish_reason: Literal["stop", "length"]
    prompt_tokens: int
    timings: Timings = field(default_factory=Timings)
    forward_passes: int = 0  # target-model calls while decoding (speculation makes this < tokens)
    drafted_tokens: int = 0  # draft tokens sent to verification
    accepted_tokens: int = 0  # of those, how many the target accepted
    top_logprobs: list[list[tuple[int, float]]] = field(default_factory=list)  # (token id, logprob) per token

    @property
    def completion_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def acceptance_rate(self) -> float:
        return self.accepted_tokens / self.drafted_tokens if self.drafted_tokens else 0.0


@dataclass
class LabelScores:
    """Calibrated probabilities of each label from one forward pass."""

    labels: list[str]
    probs: list[float]

    @property
    def best(self) -> str:
        return self.labels[max(range(len(self.probs)), key=self.probs.__getitem__)]
