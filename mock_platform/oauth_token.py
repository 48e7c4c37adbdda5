"""`POST /oauth/token`: a deployment's id and secret (client credentials) for a deployment token.

Every connector start and every token refresh of a fleet lands here, so it is served like the tool-call
path: `TokenFastPath` answers the usual request (a small `application/x-www-form-urlencoded` form with
a `grant_type`) as a plain ASGI wrapper, before FastAPI's routing, form parsing, threadpool and
response model (about two thirds of the platform's CPU per request otherwise); anything unusual (another
content type, no `grant_type`, an oversized body, bad encoding) goes on to the FastAPI route in
`api_auth.py` with its body replayed, so FastAPI's validation answers it exactly as before. Both call
`exchange`, the one place where the rules live: the per-client and per-address limits before any
secret is checked, the constant-time secret check, the token.
"""

from __future__ import annotations

import base64
import binascii
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson

from .errors import ApiError
from .rate_limit import RateLimiter, retry_after_header

TOKEN_PATH = "/oauth/token"
#: Larger forms are not what the runtime sends: the FastAPI route reads those.
FAST_FORM_LIMIT = 8192
_FORM = b"application/x-www-form-urlencoded"
#: RFC 6749 §5.1: a response carrying a token must not be cached.
NO_STORE = {"Cache-Control": "no-store"}


@dataclass
class OAuthLimits:
    per_client: RateLimiter
    per_address: RateLimiter


def exchange(
    platform: Any,
    limits: OAuthLimits,
    address: str,
    now: float,
    grant_type: str,
    client_id: str | None,
    client_secret: str | None,
    authorization: str,
) -> dict[str, Any]:
    """The token response of SPEC.md §5 (client credentials in the form or HTTP Basic); `ApiError` 400/401/429."""
    if grant_type != "client_credentials":
        raise ApiError(400, "unsupported_grant_type", "Only grant_type=client_credentials is supported")
    if not client_id or not client_secret:
        client_id, client_secret = basic_credentials(authorization) or (client_id, client_secret)
    _rate_limit(limits, address, client_id or "", now)
    deployment = None
    if client_id and client_secret:
        deployment = platform.store.verify_deployment_secret(client_id, client_secret)
    if deployment is None:
        raise ApiError(
            401, "invalid_client", "Deployment credentials invalid: check DEPLOYMENT_ID and DEPLOYMENT_SECRET"
        )
    ttl = platform.config.deployment_token_ttl_seconds
    token = platform.tokens.issue(
        f"deployment:{deployment.id}", org_id=deployment.org_id, expires_in=ttl, deployment_id=deployment.id
    )
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}


def _rate_limit(limits: OAuthLimits, address: str, client_id: str, now: float) -> None:
    """429 with `Retry-After` past the per-client-id or per-address budget, before any secret check."""
    waits = [limits.per_client.retry_after(client_id[:200], now), limits.per_address.retry_after(address, now)]
    wait = max((w for w in waits if w is not None), default=None)
    if wait is not None:
        error = ApiError(429, "rate_limited", "Too many token requests; retry after the time in Retry-After")
        error.headers = {"Retry-After": retry_after_header(wait)}
        raise error


def basic_credentials(authorization: str) -> tuple[str, str] | None:
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value).decode("utf-8").partition(":")
    except (ValueError, binascii.Error):
        return None
    return user, password


def form_fields(raw: bytes) -> dict[str, str] | None:
    """The fields of a urlencoded form as FastAPI reads them (the last of repeated names wins; callers
    take an empty value for an absent one), or None when it is not a plain ASCII form whose escapes are
    UTF-8 (the route then reads it, as it always did)."""
    if not raw.isascii():
        return None
    try:
        return dict(parse_qsl(raw.decode("ascii"), keep_blank_values=True, errors="strict"))
    except (UnicodeDecodeError, ValueError):
        return None


class TokenFastPath:
    """ASGI wrapper: the usual `POST /oauth/token` answered by `exchange`; everything else to the app."""

    def __init__(self, app: Any, platform_app: Any = None) -> None:
        self.app = app
        # The FastAPI app whose state holds the platform: given in front of the app (serve.py); as a
        # middleware inside it, Starlette has put it in the scope already.
        self.platform_app = platform_app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != TOKEN_PATH:
            await self.app(scope, receive, send)
            return
        headers = dict(reversed(scope["headers"]))  # the first of repeated names, as Starlette reads them
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        messages: list[dict[str, Any]] = []
        raw = b""
        if content_type == _FORM:
            raw, messages = await _read_small_body(receive)
        fields = form_fields(raw) if raw else None
        if not fields or not fields.get("grant_type"):
            await self.app(scope, _replay(messages, receive), send)  # FastAPI reads and answers it
            return
        state = (scope.get("app") or self.platform_app).state
        client = scope.get("client")
        try:
            body = exchange(
                state.platform,
                state.oauth_limits,
                client[0] if client else "",
                time.monotonic(),
                fields["grant_type"],
                fields.get("client_id") or None,
                fields.get("client_secret") or None,
                headers.get(b"authorization", b"").decode("latin-1"),
            )
        except ApiError as refusal:
            await send_json(send, refusal.status, orjson.dumps(refusal.body()), refusal.headers)
            return
        await send_json(send, 200, orjson.dumps(body), NO_STORE)


async def _read_small_body(receive) -> tuple[bytes, list[dict[str, Any]]]:
    """The body if it fits in `FAST_FORM_LIMIT`, and every message read (to replay them otherwise)."""
    messages, size = [], 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return b"", messages
        size += len(message.get("body", b""))
        if size > FAST_FORM_LIMIT:
            return b"", messages
        if not message.get("more_body"):
            return b"".join(m.get("body", b"") for m in messages), messages


def _replay(messages: list[dict[str, Any]], receive):
    """`receive` that hands back the messages already read, then the rest of the stream."""
    pending = list(messages)

    async def replayed() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


async def send_json(send, status: int, body: bytes, headers: dict[str, str]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
