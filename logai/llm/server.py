"""`logai llm serve`: an OpenAI-compatible HTTP server over any `Backend` (normally `LocalBackend`), so the
same client code talks to logai's engine, vLLM or SGLang.

Endpoints: `POST /v1/chat/completions`, `POST /v1/completions`, `GET /v1/models`, `GET /healthz`, `GET /readyz`.
Constraints: `response_format` (`json_schema`, `json_object`) and vLLM-style `structured_outputs`
(`choice`, `regex`, `grammar`, `json`). One choice per request (`n=1`); no streaming.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from logai import __version__
from logai.llm.backend import Backend
from logai.llm.types import Constraint, ConstraintKind, GenerationRequest, GenerationResult, LLMError, SamplingParams


class Message(BaseModel):
    role: Literal["system", "user", "assistant"]
    content: str


class JsonSchemaFormat(BaseModel):
    name: str = "output"
    schema_: dict[str, Any] = Field(alias="schema")
    strict: bool | None = None


class ResponseFormat(BaseModel):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class StructuredOutputs(BaseModel):
    """vLLM's structured outputs: exactly one of these."""

    choice: list[str] | None = None
    regex: str | None = None
    grammar: str | None = None
    json_: dict[str, Any] | None = Field(None, alias="json")


class _Common(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    model: str | None = None
    max_tokens: int | None = Field(None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(None, ge=1, le=8192)
    temperature: float = Field(1.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    top_k: int = Field(0, ge=0)
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int = Field(1, ge=1, le=1, description="one choice per request")
    stream: Literal[False] = Field(False, description="streaming is not supported")
    logprobs: bool = False
    top_logprobs: int = Field(0, ge=0, le=20)
    response_format: ResponseFormat | None = None
    structured_outputs: StructuredOutputs | None = None

    def sampling(self) -> SamplingParams:
        stops = [self.stop] if isinstance(self.stop, str) else list(self.stop or [])
        return SamplingParams(max_tokens=self.max_completion_tokens or self.max_tokens or 256,
                              temperature=self.temperature, top_p=self.top_p, top_k=self.top_k, seed=self.seed,
                              stop=stops, top_logprobs=self.top_logprobs if self.logprobs else 0)

    def constraint(self) -> Constraint | None:
        rf, so = self.response_format, self.structured_outputs
        if rf is not None and rf.type == "json_schema":
            if rf.json_schema is None:
                raise HTTPException(400, "response_format json_schema needs a json_schema object")
            return Constraint.json_schema(rf.json_schema.schema_)
        if rf is not None and rf.type == "json_object":
            return Constraint.json_schema({"type": "object"})
        if so is not None:
            offered: list[tuple[ConstraintKind, Any]] = [("choice", so.choice), ("regex", so.regex),
                                                         ("ebnf", so.grammar), ("json_schema", so.json_)]
            given = [(k, v) for k, v in offered if v is not None]
            if len(given) != 1:
                raise HTTPException(400, "structured_outputs needs exactly one of choice, regex, grammar, json")
            kind, spec = given[0]
            if kind == "choice" and not spec:
                raise HTTPException(400, "structured_outputs.choice is empty")
            return Constraint(kind, spec)
        return None


class ChatCompletionRequest(_Common):
    messages: list[Message] = Field(min_length=1)


class CompletionRequest(_Common):
    prompt: str


def get_backend(request: Request) -> Backend:
    return request.app.state.backend


BackendDep = Annotated[Backend, Depends(get_backend)]


def create_llm_app(backend: Backend, model_name: str) -> FastAPI:
    app = FastAPI(title="logai LLM", version=__version__,
                  description="OpenAI-compatible completions over logai's in-process engine.")
    app.state.backend = backend

    def run(backend: Backend, request: GenerationRequest) -> GenerationResult:
        try:
            return backend.generate([request])[0]
        except ValueError as exc:  # an invalid schema, regex or grammar
            raise HTTPException(400, str(exc)) from exc
        except LLMError as exc:
            raise HTTPException(503, str(exc)) from exc

    def logprobs_block(backend: Backend, result: GenerationResult) -> dict[str, Any]:
        tokenizer = getattr(backend, "tokenizer", None)

        def text(token: int) -> str:
            return tokenizer.decode([token]) if tokenizer is not None else str(token)

        content = []
        for i, (token, logprob) in enumerate(zip(result.token_ids, result.logprobs, strict=False)):
            tops = result.top_logprobs[i] if i < len(result.top_logprobs) else []
            content.append({"token": text(token), "logprob": logprob, "bytes": None,
                            "top_logprobs": [{"token": text(t), "logprob": lp, "bytes": None} for t, lp in tops]})
        return {"content": content}

    def usage(result: GenerationResult) -> dict[str, int]:
        return {"prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
                "total_tokens": result.prompt_tokens + result.completion_tokens}

    @app.get("/healthz")
    @app.get("/readyz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "owned_by": "logai",
                                            "created": 0}]}

    @app.post("/v1/chat/completions")
    def chat(body: ChatCompletionRequest, backend: BackendDep) -> dict[str, Any]:
        request = GenerationRequest(messages=[m.model_dump() for m in body.messages], sampling=body.sampling(),
                                    constraint=body.constraint())
        result = run(backend, request)
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": result.text},
                                  "finish_reason": result.finish_reason,
                                  "logprobs": logprobs_block(backend, result) if body.logprobs else None}
        return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
                "model": body.model or model_name, "choices": [choice], "usage": usage(result),
                "logai": {"forward_passes": result.forward_passes, "drafted_tokens": result.drafted_tokens,
                          "accepted_tokens": result.accepted_tokens}}

    @app.post("/v1/completions")
    def completions(body: CompletionRequest, backend: BackendDep) -> dict[str, Any]:
        request = GenerationRequest(prompt=body.prompt, sampling=body.sampling(), constraint=body.constraint())
        result = run(backend, request)
        return {"id": f"cmpl-{uuid.uuid4().hex[:24]}", "object": "text_completion", "created": int(time.time()),
                "model": body.model or model_name,
                "choices": [{"index": 0, "text": result.text, "finish_reason": result.finish_reason,
                             "logprobs": None}], "usage": usage(result)}

    return app
