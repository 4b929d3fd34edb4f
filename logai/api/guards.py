"""What every request passes before any route runs or any body byte is parsed (a pure ASGI middleware):

- a request id (the client's `X-Request-ID` when sane, else a new one), returned in the response header and
  in the log line of any server error, so a user's report can be matched to the traceback;
- the API key, when keys are configured: an unauthenticated client is answered 401 before its body is read
  (FastAPI parses a JSON body before it runs dependencies, so a route dependency alone checks too late);
- the body cap `api.max_request_bytes`, on the declared length and again on the bytes as they stream in
  (chunked uploads), for every route, including those FastAPI reads into a model: past the cap the app is
  told the client left (so it reads no further and stores nothing) and the client gets a 413.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

from logai import metrics

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SANE_ID = re.compile(r"^[\w.:-]{1,64}$")
PROTECTED_PREFIXES = ("/v1/", "/loki/api/")  # health, readiness, metrics and the docs stay open
# doors that read their body under the same cap themselves (`api.bodies.read_body`) and answer a 413 in their
# protocol's own error format (OTLP: google.rpc.Status)
SELF_LIMITED = frozenset({"/v1/ingest", "/v1/logs", "/loki/api/v1/push"})


def authorised(x_api_key: str | None, authorization: str | None, keys: frozenset[str]) -> bool:
    """`X-API-Key: <key>` or `Authorization: Bearer <key>` (what OTLP exporters and Loki clients send)."""
    if x_api_key in keys:
        return True
    return authorization is not None and authorization[:7].lower() == "bearer " and authorization[7:].strip() in keys


class RequestGuard:
    def __init__(self, app: ASGIApp, *, api_keys: list[str], max_request_bytes: int):
        self.app = app
        self.keys = frozenset(api_keys)
        self.limit = max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SANE_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        raw_id = request_id.encode()

        too_large = False  # set when a streamed body passes the cap: whatever the app answers becomes a 413
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal answered
            if too_large:
                if not answered:
                    answered = True
                    await self._too_large(send, request_id, [(b"x-request-id", raw_id)])
                return
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", raw_id)]
            await send(message)

        if self.keys and scope["path"].startswith(PROTECTED_PREFIXES) and not authorised(
                _header(headers, b"x-api-key"), _header(headers, b"authorization"), self.keys):
            await _answer(send_with_id, 401, "missing or invalid X-API-Key", request_id,
                          [(b"www-authenticate", b"ApiKey")])
            return
        if scope["path"] in SELF_LIMITED:
            await self.app(scope, receive, send_with_id)
            return
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._too_large(send_with_id, request_id)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:  # a chunked body: cut off as it passes the cap, not after
                    too_large = True
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted_receive, send_with_id)

    async def _too_large(self, send: Send, request_id: str, extra: list[tuple[bytes, bytes]] | None = None) -> None:
        metrics.DOOR_REJECTED.labels(door="http", reason="too_large").inc()
        await _answer(send, 413, f"request body over {self.limit} bytes (api.max_request_bytes)", request_id, extra)


def _header(headers: dict[bytes, bytes], name: bytes) -> str | None:
    value = headers.get(name)
    return value.decode("latin-1") if value is not None else None


async def _answer(send: Send, status: int, detail: str, request_id: str,
                  extra: list[tuple[bytes, bytes]] | None = None) -> None:
    body = orjson.dumps({"detail": detail, "request_id": request_id})
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *(extra or [])]})
    await send({"type": "http.response.body", "body": body})
