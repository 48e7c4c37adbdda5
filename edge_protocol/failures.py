"""Why a link or a request failed, as one kind, from what the wire said (SPEC.md §6, §7, §14).

Pure mappers from an HTTP status or a WebSocket close code to a `FailureKind`; the shells (the
runtime's session, the CLI's HTTP client, `edge-connector tail`) decide what to do with the kind
(wait, re-authenticate, give up) and choose the words they print.
"""

from __future__ import annotations

from enum import Enum

from .close_codes import CLOSE_PLATFORM_RESTART, CLOSE_PROTOCOL_ERROR, CLOSE_REPLACED, CLOSE_TOKEN_EXPIRED


class FailureKind(str, Enum):
    UNREACHABLE = "unreachable"  # refused, DNS, timeout, TLS: the platform could not be reached
    UNAUTHORIZED = "unauthorized"  # 401/403 at the handshake, or close 4001
    DUPLICATE = "duplicate"  # 409 / close 4009: this deployment is connected elsewhere
    UNAVAILABLE = "unavailable"  # 503 and other statuses: the platform refused for now
    PROTOCOL = "protocol"  # the peer broke the protocol (bad hello, close 4000)
    LOST = "lost"  # an established link ended


def failure_kind_of_status(status: int) -> FailureKind:
    """The kind of a refused WebSocket handshake (or HTTP request) from its status."""
    if status in (401, 403):
        return FailureKind.UNAUTHORIZED
    if status == 409:
        return FailureKind.DUPLICATE
    return FailureKind.UNAVAILABLE


def failure_kind_of_close(code: int | None) -> FailureKind:
    """The kind of an established link's end from its close code (None: no close frame at all)."""
    if code == CLOSE_TOKEN_EXPIRED:
        return FailureKind.UNAUTHORIZED
    if code == CLOSE_REPLACED:
        return FailureKind.DUPLICATE
    if code == CLOSE_PROTOCOL_ERROR:
        return FailureKind.PROTOCOL
    return FailureKind.LOST


def is_platform_restart(code: int | None) -> bool:
    """The platform closed because it is restarting: worth saying so rather than printing a bare code."""
    return code == CLOSE_PLATFORM_RESTART


def is_retryable_status(status: int) -> bool:
    """A refused HTTP request worth sending again after a pause: rate-limited (429) or a server error (5xx)."""
    return status == 429 or status >= 500
