"""What a failed attempt to open the link means, in words an operator can act on: a refused handshake
(HTTP status and the platform's error body) or a connection that never got that far."""

from __future__ import annotations

import asyncio

from edge_protocol.backoff import parse_retry_after
from edge_protocol.failures import failure_kind_of_status

from .auth import no_organization_message, token_expired_message
from .connection import Failure
from .platform_errors import error_body


def handshake_failure(status: int, body: bytes | None, retry_after: str | None, deployment_id: str | None) -> Failure:
    """The platform refused the upgrade with `status` and `body` (`retry_after`: its Retry-After header)."""
    code, message = error_body(body)
    kind = failure_kind_of_status(status)  # what it means is edge_protocol's; the words are ours
    if status == 401 and code == "token_expired":
        return Failure(kind, token_expired_message())
    if status == 401:
        return Failure(
            kind,
            f"{message or 'Token validation failed'} (HTTP 401 {code or ''}); "
            "save a new token with edge-connector auth --browser or edge-connector auth --token <new-token>",
        )
    if status == 403 and code == "no_organization":
        return Failure(kind, no_organization_message())
    if status == 403:
        return Failure(kind, f"{message or 'forbidden'} (HTTP 403 {code or ''})")
    if status == 409:
        return Failure(
            kind,
            f"Deployment already connected: another runtime is connected as deployment "
            f"{deployment_id or '(org default)'}; stop it or use a different DEPLOYMENT_ID",
        )
    # A 503 may say when to come back (SPEC.md §14: the platform spreads a reconnect herd).
    return Failure(
        kind,
        f"the platform refused the connection (HTTP {status}"
        f"{' ' + code if code else ''}{': ' + message if message else ''})",
        parse_retry_after(retry_after) if status == 503 else None,
    )


def is_expired_token(status: int, body: bytes | None) -> bool:
    """A 401 `token_expired`: the cached token is stale and must not be offered again."""
    return status == 401 and error_body(body)[0] == "token_expired"


def describe_connect_error(exc: BaseException, url: str) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return (
            f"ECONNREFUSED: nothing is listening at {url}; is the platform server running? "
            "Check TOOL_RPC_URL (or toolRpcUrl in config.json)"
        )
    if isinstance(exc, asyncio.TimeoutError):
        return f"timed out connecting to {url}; check the network, firewall or proxy"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror} ({url})"
    return f"{type(exc).__name__}: {exc} ({url})"
