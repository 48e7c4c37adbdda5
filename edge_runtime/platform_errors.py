"""What the platform's HTTP refusals say, read once for every caller in the runtime (the handshake, the
assignment poll, the archive download, the secrets fetch): the `{"error": {code, message}}` body
and an `httpx` failure, each as a few words for a log line."""

from __future__ import annotations

import httpx
import orjson

from edge_protocol.messages import InvalidMessage, RestError


def error_body(body: bytes | None) -> tuple[str | None, str | None]:
    """`(code, message)` of a REST error body; `(None, None)` when it is not one."""
    try:
        error = RestError.from_wire(orjson.loads(body or b"{}"))
    except (orjson.JSONDecodeError, InvalidMessage):
        return None, None
    return error.code, error.message


def describe_refusal(status: int, body: bytes) -> str:
    """`HTTP 404 not_found: No such bundle` from the platform's `{"error": {code, message}}` body."""
    code, message = error_body(body)
    if code or message:
        return f"HTTP {status} {code or ''}: {message or ''}".replace(" :", ":")
    return f"HTTP {status}"


def describe_http_error(exc: httpx.HTTPError) -> str:
    text = str(exc) or exc.__class__.__name__
    try:
        url = exc.request.url.copy_with(query=None)
        return f"{exc.__class__.__name__} for {url}: {text}"
    except RuntimeError:  # no request attached
        return f"{exc.__class__.__name__}: {text}"


async def read_capped(response: httpx.Response, limit: int) -> bytes:
    """At most `limit` bytes of a streamed body: enough to explain a refusal, never a whole archive."""
    body = b""
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) >= limit:
            break
    return body[:limit]
