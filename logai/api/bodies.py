"""Reading request bodies under a cap: the limit applies while the bytes arrive (chunked uploads too), and
again to what they decompress to, so no request holds more than `api.max_request_bytes` in memory."""

from __future__ import annotations

from fastapi import HTTPException, Request, status

from logai.doors.bodies import BadBody, BodyTooLarge, decompress


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body; 413 as soon as it passes `limit` bytes (before reading the rest)."""
    too_large = HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                              f"request body over {limit} bytes (api.max_request_bytes)")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def read_decoded_body(request: Request, limit: int) -> bytes:
    """The body with its Content-Encoding (gzip, deflate) undone; 400 for a broken encoding, 413 past `limit`."""
    body = await read_body(request, limit)
    try:
        return decompress(body, request.headers.get("content-encoding"), limit)
    except BodyTooLarge as exc:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, f"{exc} (api.max_request_bytes)") from exc
    except BadBody as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from exc


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()
