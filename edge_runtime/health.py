"""The health server on `HEALTH_HOST:HEALTH_PORT`: `/livez`, `/healthz`, `/statusz`, `/metrics` (SPEC.md §8).

A small asyncio handler rather than a web framework: probes send one GET and read one answer, the
idle runtime must stay within 60 MB RSS, and answering from the runtime's own event loop is the
point of `/livez` (it only answers while that loop is responsive). Every answer closes the
connection, so there is no keep-alive state to manage.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from .logs import redact_structure

log = logging.getLogger("edge_runtime.health")

_MAX_REQUEST_BYTES = 8192
_READ_TIMEOUT = 5.0
_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 400: "Bad Request", 503: "Service Unavailable"}


class HealthPortInUse(Exception):
    pass


@dataclass
class HealthRoutes:
    """What the server asks the runtime; each callable is cheap and never blocks."""

    is_ready: Callable[[], bool]
    status: Callable[[], dict[str, Any]]
    metrics: Callable[[], bytes]
    metrics_content_type: str


#: `EC_STATUSZ_PUBLIC=1` serves `/statusz` to every client, not only loopback ones.
STATUSZ_PUBLIC_ENV = "EC_STATUSZ_PUBLIC"


def is_loopback_peer(peer: Any) -> bool:
    """The client of a health request is on this machine (or a Unix socket/unknown: treated as not)."""
    try:
        return ipaddress.ip_address(str(peer[0]).split("%", 1)[0]).is_loopback
    except (TypeError, IndexError, ValueError):
        return False


class HealthServer:
    """Probes (`/livez`, `/healthz`) and `/metrics` answer anyone who can reach the port; `/statusz`
    (install path, deployment, settings, errors) answers loopback clients only, unless
    `statusz_public` — so binding `0.0.0.0` for a container's probes does not publish it."""

    def __init__(self, host: str, port: int, routes: HealthRoutes, statusz_public: bool = False) -> None:
        self.statusz_public = statusz_public
        self.host = host
        self.requested_port = port
        self.routes = routes
        self._server: asyncio.AbstractServer | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        try:
            self._server = await asyncio.start_server(
                self._handle, self.host, self.requested_port, reuse_address=True, limit=_MAX_REQUEST_BYTES
            )
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise HealthPortInUse(
                    f"Health port {self.requested_port} on {self.host} is already in use: set HEALTH_PORT "
                    "(or healthPort in config.json, or --health-port) to a free port, or 0 to pick one"
                ) from None
            raise HealthPortInUse(
                f"Cannot serve health checks on {self.host}:{self.requested_port} ({exc.strerror}): "
                "check HEALTH_HOST and HEALTH_PORT"
            ) from None
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _READ_TIMEOUT)
            method, _, rest = head.split(b"\r\n", 1)[0].decode("latin-1").partition(" ")
            path = rest.split(" ", 1)[0].split("?", 1)[0]
            status, content_type, body = self.answer(method, path, writer.get_extra_info("peername"))
            header = (
                f"HTTP/1.1 {status} {_REASONS.get(status, '')}\r\nContent-Type: {content_type}\r\n"
                f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
            ).encode("latin-1")
            writer.write(header if method == "HEAD" else header + body)
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            pass
        except Exception:
            log.exception("health request failed")
        finally:
            writer.close()

    def answer(self, method: str, path: str, peer: Any) -> tuple[int, str, bytes]:
        """Status, content type and body for one request from `peer` (a socket address)."""
        if path == "/statusz" and not self.statusz_public and not is_loopback_peer(peer):
            return (
                404,
                "text/plain; charset=utf-8",
                (
                    b"/statusz is served to loopback clients only; read it on the machine "
                    b"(edge-connector status) or set EC_STATUSZ_PUBLIC=1\n"
                ),
            )
        return self._route(method, path)

    def _route(self, method: str, path: str) -> tuple[int, str, bytes]:
        if method not in ("GET", "HEAD"):
            return 405, "text/plain; charset=utf-8", b"only GET and HEAD\n"
        if path == "/livez":
            return 200, "text/plain; charset=utf-8", b"ok\n"
        if path == "/healthz":
            if self.routes.is_ready():
                return 200, "text/plain; charset=utf-8", b"ok\n"
            return 503, "text/plain; charset=utf-8", b"not connected to the platform yet; see /statusz\n"
        if path == "/statusz":
            # Redacted whole: settings and errors may quote URLs with credentials or tokens in them.
            return (
                200,
                "application/json",
                orjson.dumps(redact_structure(self.routes.status()), option=orjson.OPT_INDENT_2),
            )
        if path == "/metrics":
            return 200, self.routes.metrics_content_type, self.routes.metrics()
        return 404, "text/plain; charset=utf-8", b"not found: try /livez, /healthz, /statusz or /metrics\n"
