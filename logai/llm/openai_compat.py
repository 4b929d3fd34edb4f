"""`OpenAICompatBackend`: chat completions against vLLM, SGLang, `logai llm serve` or any OpenAI-compatible
server.

Constraints travel as `response_format` (JSON schema) or vLLM's `structured_outputs` (choice, regex,
grammar). Calls time out, are retried with exponential backoff on connection errors, 429 and 5xx
(tenacity), run at most `max_concurrency` at a time, and stop for `reset_after_s` once `failure_threshold`
calls in a row have failed (pybreaker's circuit breaker), so a dead server costs one fast `LLMError`
instead of a timeout per log line. Output that breaks the requested constraint is an `LLMError` too,
never a silent pass.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import httpx
import pybreaker
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from logai.llm.backend import Backend
from logai.llm.types import GenerationRequest, GenerationResult, LabelScores, LLMError, Timings

log = logging.getLogger(__name__)
RETRYABLE_STATUS = {408, 429, 500, 502, 503, 504}


class _Retryable(Exception):
    """A failure worth another attempt: no connection, a timeout, 408/429/5xx, a body that is not JSON."""


class _Rejected(LLMError):
    """The server refused the request itself (4xx): retrying will not help, and the server is up."""


def request_body(request: GenerationRequest, model: str) -> dict[str, Any]:
    """The JSON body of a chat (or legacy completion) request, constraint included."""
    s = request.sampling
    body: dict[str, Any] = {"model": model, "max_tokens": s.max_tokens, "temperature": s.temperature,
                            "top_p": s.top_p}
    if request.messages is not None:
        body["messages"] = request.messages
    else:
        body["prompt"] = request.prompt
    if s.top_k:
        body["top_k"] = s.top_k
    if s.seed is not None:
        body["seed"] = s.seed
    if s.stop:
        body["stop"] = s.stop
    if s.top_logprobs:
        body["logprobs"] = True
        body["top_logprobs"] = s.top_logprobs
    c = request.constraint
    if c is not None:
        if c.kind == "json_schema":
            body["response_format"] = {"type": "json_schema",
                                       "json_schema": {"name": "logai", "schema": c.spec, "strict": True}}
        else:
            key = {"choice": "choice", "regex": "regex", "ebnf": "grammar"}[c.kind]
            body["structured_outputs"] = {key: c.spec}
    return body


def check_constraint(request: GenerationRequest, text: str) -> None:
    """Raise LLMError when the server's output ignores the constraint it was sent."""
    c = request.constraint
    if c is None:
        return
    if c.kind == "json_schema":
        try:
            json.loads(text)
        except ValueError:
            raise LLMError(f"the server returned invalid JSON for a JSON-schema request: {text[:200]!r}") from None
    elif c.kind == "choice" and text.strip() not in c.spec:
        raise LLMError(f"the server returned {text[:100]!r}, not one of {list(c.spec)}")


class OpenAICompatBackend(Backend):
    name = "openai"

    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, timeout_s: float = 60.0,
                 max_retries: int = 3, backoff_s: float = 0.5, max_concurrency: int = 8,
                 failure_threshold: int = 5, reset_after_s: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout_s,
                                   limits=httpx.Limits(max_connections=max_concurrency))
        # open after `failure_threshold` failed calls in a row; one trial call after `reset_after_s`
        self.breaker = pybreaker.CircuitBreaker(fail_max=failure_threshold, reset_timeout=reset_after_s,
                                                exclude=[_Rejected], throw_new_error_on_trip=False)
        self.pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="logai-llm")

    def generate(self, requests: Sequence[GenerationRequest]) -> list[GenerationResult]:
        if len(requests) == 1:
            return [self._one(requests[0])]
        return list(self.pool.map(self._one, requests))

    def _one(self, request: GenerationRequest) -> GenerationResult:
        started = time.perf_counter()
        path = "/v1/chat/completions" if request.messages is not None else "/v1/completions"
        data = self._post(path, request_body(request, self.model))
        try:
            choice = data["choices"][0]
            text = choice["message"]["content"] if request.messages is not None else choice["text"]
            if not isinstance(text, str):
                raise TypeError("content is not a string")
            usage = data.get("usage") or {}
            logprobs = [item["logprob"] for item in ((choice.get("logprobs") or {}).get("content") or [])]
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError(f"malformed completion from {self.base_url}: {exc!r}; got {str(data)[:200]}") from exc
        check_constraint(request, text)
        finish: Literal["stop", "length"] = "length" if choice.get("finish_reason") == "length" else "stop"
        return GenerationResult(text=text, token_ids=[], logprobs=logprobs, finish_reason=finish,
                                prompt_tokens=int(usage.get("prompt_tokens", 0)),
                                timings=Timings(total_s=time.perf_counter() - started))

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with retries (tenacity, exponential backoff) behind the circuit breaker; the decoded JSON body."""
        return self._guarded(self._post_with_retries, path, body)

    def _guarded(self, call: Any, *args: Any) -> Any:
        try:
            return self.breaker.call(call, *args)
        except pybreaker.CircuitBreakerError as exc:
            raise LLMError(f"LLM circuit open after {self.breaker.fail_max} failures in a row; the next call "
                           f"tries again {self.breaker.reset_timeout:.0f} s after the circuit opened") from exc

    def _post_with_retries(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        retrying = Retrying(stop=stop_after_attempt(self.max_retries + 1), wait=wait_exponential(self.backoff_s),
                            retry=retry_if_exception_type(_Retryable), reraise=True)
        try:
            return retrying(self._post_once, path, body)
        except _Retryable as exc:
            raise LLMError(f"LLM request to {self.base_url}{path} failed after {self.max_retries + 1} attempts: "
                           f"{exc}") from exc

    def _post_once(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.client.post(path, json=body)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out after {self.client.timeout.read} s") from exc
        except httpx.TransportError as exc:
            raise _Retryable(f"cannot reach {self.base_url}: {exc}") from exc
        if response.status_code in RETRYABLE_STATUS:
            raise _Retryable(f"HTTP {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            raise _Rejected(f"{self.base_url}{path} rejected the request: HTTP {response.status_code}: "
                            f"{response.text[:300]}")
        try:
            return response.json()
        except ValueError as exc:
            raise _Retryable(f"the server answered with non-JSON: {response.text[:200]!r}") from exc

    def score_labels(self, messages: list[dict[str, str]], labels: Sequence[str]) -> LabelScores:
        """First-token scoring through `top_logprobs`: each label gets the best logprob among returned
        first tokens that begin it (labels no returned token begins get a floor below all others)."""
        from logai.llm.types import Constraint, SamplingParams

        request = GenerationRequest(messages=messages, constraint=Constraint.choice(list(labels)),
                                    sampling=SamplingParams(max_tokens=1, top_logprobs=20))
        data = self._post("/v1/chat/completions", request_body(request, self.model))
        try:
            content = data["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            tops = [(item["token"], float(item["logprob"])) for item in content]
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError(f"the server returned no top_logprobs to score labels with: {exc!r}") from exc
        floor = min((lp for _, lp in tops), default=0.0) - 5.0
        scores = []
        for label in labels:
            matches = [lp for token, lp in tops if token.strip() and label.lower().startswith(token.strip().lower())]
            scores.append(max(matches, default=floor))
        top = max(scores)
        weights = [math.exp(s - top) for s in scores]
        total = sum(weights)
        return LabelScores(list(labels), [w / total for w in weights])

    def models(self) -> list[str]:
        return self._guarded(self._models)

    def _models(self) -> list[str]:
        try:
            response = self.client.get("/v1/models")
            response.raise_for_status()
            return [m["id"] for m in response.json()["data"]]
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise LLMError(f"cannot list models at {self.base_url}: {exc}") from exc

    def close(self) -> None:
        self.pool.shutdown(wait=False)
        self.client.close()
