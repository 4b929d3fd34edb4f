"""`logai llm serve`'s app and `OpenAICompatBackend` over real HTTP (uvicorn on free ports), including servers
that are down, slow, or answer garbage."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse

from logai.llm.openai_compat import OpenAICompatBackend
from logai.llm.server import create_llm_app
from logai.llm.types import Constraint, LLMError
from pipelines.local_services import free_port, wait_ready


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, timeout=20)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def llm_server(tiny_backend):
    with serving(create_llm_app(tiny_backend("suffix"), "tiny")) as base:
        yield base


def test_chat_completions_with_schema_choice_and_logprobs(llm_server):
    import httpx

    schema = {"type": "object", "properties": {"label": {"enum": ["normal", "abnormal"]}},
              "required": ["label"], "additionalProperties": False}
    body = {"messages": [{"role": "user", "content": "verdict?"}], "max_tokens": 30, "temperature": 0,
            "response_format": {"type": "json_schema", "json_schema": {"name": "v", "schema": schema}},
            "logprobs": True, "top_logprobs": 3}
    data = httpx.post(f"{llm_server}/v1/chat/completions", json=body, timeout=60).json()
    choice = data["choices"][0]
    assert json.loads(choice["message"]["content"])["label"] in {"normal", "abnormal"}
    assert data["usage"]["completion_tokens"] == len(choice["logprobs"]["content"]) > 0
    assert 1 <= len(choice["logprobs"]["content"][0]["top_logprobs"]) <= 3  # only grammar-allowed tokens

    body = {"messages": [{"role": "user", "content": "x"}], "temperature": 0, "max_tokens": 5,
            "structured_outputs": {"choice": ["up", "down"]}}
    assert httpx.post(f"{llm_server}/v1/chat/completions", json=body).json()["choices"][0]["message"][
        "content"] in {"up", "down"}
    assert httpx.get(f"{llm_server}/v1/models").json()["data"][0]["id"] == "tiny"
    completion = httpx.post(f"{llm_server}/v1/completions", json={"prompt": "blk_1 blk_2", "max_tokens": 4}).json()
    assert completion["choices"][0]["finish_reason"] in {"stop", "length"}


def test_bad_requests_are_clear_4xx(llm_server):
    import httpx

    url = f"{llm_server}/v1/chat/completions"
    assert httpx.post(url, json={"messages": []}).status_code == 422
    assert httpx.post(url, json={"messages": [{"role": "user", "content": "x"}], "stream": True}).status_code == 422
    bad_regex = {"messages": [{"role": "user", "content": "x"}], "structured_outputs": {"regex": "(unclosed"}}
    response = httpx.post(url, json=bad_regex)
    assert response.status_code == 400 and "regex" in response.text
    two = {"messages": [{"role": "user", "content": "x"}], "structured_outputs": {"choice": ["a"], "regex": "b"}}
    assert httpx.post(url, json=two).status_code == 400


def test_client_against_the_server(llm_server, tiny_backend):
    client = OpenAICompatBackend(llm_server, "tiny", timeout_s=60)
    try:
        result = client.chat([{"role": "user", "content": "Copy: blk_1 blk_1 blk_1"}], max_tokens=16, temperature=0)
        local = tiny_backend("none").chat([{"role": "user", "content": "Copy: blk_1 blk_1 blk_1"}], max_tokens=16)
        assert result.text == local.text  # the server's speculative answer equals local plain greedy
        answers = client.generate([client_request(c) for c in (["a", "b"], ["c", "d"], ["e", "f"])])
        assert [a.text in opts for a, opts in zip(answers, (["a", "b"], ["c", "d"], ["e", "f"]), strict=True)] == [
            True] * 3
        scores = client.score_labels([{"role": "user", "content": "normal or abnormal?"}], ["normal", "abnormal"])
        assert abs(sum(scores.probs) - 1) < 1e-6 and scores.best in {"normal", "abnormal"}
        assert client.models() == ["tiny"]
    finally:
        client.close()


def client_request(options: list[str]):
    from logai.llm.types import GenerationRequest, SamplingParams

    return GenerationRequest(messages=[{"role": "user", "content": "pick"}], constraint=Constraint.choice(options),
                             sampling=SamplingParams(max_tokens=4))


def test_a_dead_server_fails_fast_and_opens_the_circuit():
    client = OpenAICompatBackend(f"http://127.0.0.1:{free_port()}", "m", max_retries=1, backoff_s=0.01,
                                 failure_threshold=2, reset_after_s=60)
    try:
        for _ in range(2):
            with pytest.raises(LLMError, match="cannot reach"):
                client.chat([{"role": "user", "content": "x"}])
        started = time.monotonic()
        with pytest.raises(LLMError, match="circuit open"):
            client.chat([{"role": "user", "content": "x"}])
        assert time.monotonic() - started < 0.5
    finally:
        client.close()


def _misbehaving_app(mode: str) -> FastAPI:
    app = FastAPI()
    calls = {"n": 0}

    @app.get("/readyz")
    def readyz() -> dict:
        return {}

    @app.post("/v1/chat/completions")
    def chat():
        calls["n"] += 1
        if mode == "slow":
            time.sleep(2)
            return {}
        if mode == "garbage":
            return PlainTextResponse("<html>oops</html>")
        if mode == "wrong_shape":
            return {"choices": []}
        if mode == "flaky" and calls["n"] == 1:
            return PlainTextResponse("busy", status_code=503)
        if mode == "not_json_output":
            return {"choices": [{"message": {"content": "definitely not json"}, "finish_reason": "stop"}]}
        return {"choices": [{"message": {"content": "ok"}, "finish_reason": "stop"}], "usage": {"prompt_tokens": 3}}

    app.state.calls = calls
    return app


@pytest.mark.parametrize("mode, error", [("slow", "timed out"), ("garbage", "non-JSON"),
                                         ("wrong_shape", "malformed completion")])
def test_slow_or_broken_servers_are_clear_errors(mode, error):
    with serving(_misbehaving_app(mode)) as base:
        client = OpenAICompatBackend(base, "m", timeout_s=0.5, max_retries=1, backoff_s=0.01)
        try:
            with pytest.raises(LLMError, match=error):
                client.chat([{"role": "user", "content": "x"}])
        finally:
            client.close()


def test_retry_after_a_503_and_constraint_violations():
    app = _misbehaving_app("flaky")
    with serving(app) as base:
        client = OpenAICompatBackend(base, "m", max_retries=2, backoff_s=0.01)
        assert client.chat([{"role": "user", "content": "x"}]).text == "ok"
        assert app.state.calls["n"] == 2
        client.close()
    with serving(_misbehaving_app("not_json_output")) as base:
        client = OpenAICompatBackend(base, "m", max_retries=0)
        with pytest.raises(LLMError, match="invalid JSON"):
            client.chat([{"role": "user", "content": "x"}], constraint=Constraint.json_schema({"type": "object"}))
        client.close()
