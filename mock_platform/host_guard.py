"""DNS-rebinding guard of dev mode (SPEC.md §9): a request must name the address the platform serves.

A web page on `http://evil.example` whose name is re-pointed at 127.0.0.1 can make a browser talk to
a local dev platform with the page's own origin; the browser still sends `Host: evil.example`, so
refusing unknown `Host` names (421 Misdirected Request) closes that door. Outside dev mode the
platform sits behind whatever names it is published under, so the check is off there.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable

import orjson

from .config import PlatformConfig

_UNSPECIFIED = ("0.0.0.0", "::", "")


def host_name(header: str) -> str:
    """The name part of a `Host` header: `[::1]:8000` → `::1`, `Example.COM:80` → `example.com`."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].partition("]")[0]
    if header.count(":") > 1:  # a bare IPv6 address without brackets
        return header
    return header.partition(":")[0]


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def host_allowed(header: str | None, served_host: str) -> bool:
    """`localhost`, the address the platform listens on, or (listening on every address) any IP literal."""
    if not header:
        return False
    name = host_name(header)
    served = served_host.strip("[]").lower()
    if name == "localhost" or name == served:
        return True
    if served == "localhost":
        return name in ("127.0.0.1", "::1")
    # Rebinding needs a DNS name; a literal address cannot be re-pointed.
    return served in _UNSPECIFIED and _is_ip(name)


class HostGuard:
    """ASGI wrapper: in dev mode, 421 for HTTP requests and WebSocket handshakes with a foreign `Host`."""

    def __init__(self, app, config: PlatformConfig) -> None:
        self.app = app
        self.config = config

    def __call__(self, scope, receive, send) -> Awaitable[None]:
        # Hands over the inner awaitable instead of awaiting it: a WebSocket held for hours keeps no
        # frame of this layer (the server is told the app is ASGI 3, see `serve.py`).
        if scope["type"] in ("http", "websocket") and self.config.dev:
            header = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"host"), None)
            if not host_allowed(header, self.config.host):
                return _misdirected(scope, receive, send, header)
        return self.app(scope, receive, send)


async def _misdirected(scope, receive, send, header: str | None) -> None:
    body = orjson.dumps(
        {
            "error": {
                "code": "misdirected_request",
                "message": f"Host {header!r} is not this dev platform's address; use http://{scope.get('server', ('127.0.0.1',))[0]} "
                "or http://localhost (dev mode refuses other names against DNS rebinding)",
            }
        }
    )
    start = "http.response.start" if scope["type"] == "http" else "websocket.http.response.start"
    body_type = "http.response.body" if scope["type"] == "http" else "websocket.http.response.body"
    if scope["type"] == "websocket":
        await receive()  # `websocket.connect` comes first; only then may the handshake be answered
        if "websocket.http.response" not in scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008})
            return
    await send(
        {
            "type": start,
            "status": 421,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": body_type, "body": body})
