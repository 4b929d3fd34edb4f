"""Reading request bodies under a cap: the limit applies while the bytes arrive (chunked uploads too), and
again to what they decompress to, so no request holds more than `api.max_request_bytes` in memory.
`BodyTooLarge` and `BadBody` become 413 and 400 in the app's exception handlers."""

from __future__ import annotations

import io

from fastapi import Request
from starlette.requests import ClientDisconnect

from logai.doors.bodies import BadBody, BodyTooLarge, decompress


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body; BodyTooLarge as soon as it passes `limit` bytes (before reading the rest)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body over {limit} bytes")
    buffer = io.BytesIO()  # getvalue() hands over its buffer: the body is not held twice, as a join would
    try:
        async for chunk in request.stream():
            if buffer.tell() + len(chunk) > limit:
                raise BodyTooLarge(f"request body over {limit} bytes")
            buffer.write(chunk)
    except ClientDisconnect as exc:  # also what `RequestGuard` reports once a streamed body passes the cap
        raise BadBody("the client went away before the body ended") from exc
    return buffer.getvalue()


async def read_decoded_body(request: Request, limit: int) -> bytes:
    """The body with its Content-Encoding (gzip, deflate) undone, under the same `limit`."""
    return decompress(await read_body(request, limit), request.headers.get("content-encoding"), limit)


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()
