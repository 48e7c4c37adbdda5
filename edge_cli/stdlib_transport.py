"""httpx's transport interface on the standard library's `http.client`: the platform client's HTTP/1.1.

`httpx.Client`'s own transport imports httpcore, h11 and certifi when the client is built, about a
quarter of `edge-connector call`'s start-up for one request; `http.client` is already loaded by httpx
itself. Everything above the transport stays httpx's (URLs, headers, JSON, decoding, timeouts, its
exception types, which `refusals.network_error` words). A client given a transport ignores proxies
set in the environment, so with one set (`environment_proxy`) the platform client keeps httpx's own.
One idle connection per origin is kept for the next request (keep-alive), dropped when the server has
closed it meanwhile.
"""

from __future__ import annotations

import http.client
import os
import select
import socket
import ssl
from collections.abc import Iterator, Mapping

import httpx

_DEFAULT_PORTS = {"http": 80, "https": 443}
#: What httpx (through `urllib.request.getproxies`) reads as proxy settings, in any letter case.
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


def environment_proxy(environ: Mapping[str, str] | None = None) -> bool:
    """A proxy is set in the environment (httpx would route through it)."""
    env = os.environ if environ is None else environ
    return any(name.lower() in _PROXY_VARIABLES and value.strip() for name, value in env.items())


class StdlibTransport(httpx.BaseTransport):
    """HTTP/1.1 over `http.client`; `ssl_context` is used for https:// (None: no TLS offered)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self._ssl_context = ssl_context
        self._idle: dict[tuple[str, str, int], list[http.client.HTTPConnection]] = {}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeouts = request.extensions.get("timeout", {})
        origin = (request.url.scheme, request.url.host, request.url.port or _DEFAULT_PORTS[request.url.scheme])
        connection = self._connection(origin, timeouts.get("connect"), request)
        try:
            response, body = self._exchange(connection, request, timeouts)
        except BaseException:
            connection.close()
            raise
        if not response.will_close:
            self._idle.setdefault(origin, []).append(connection)
        version = b"HTTP/1.1" if response.version == 11 else b"HTTP/1.0"
        return httpx.Response(
            response.status,
            headers=response.getheaders(),
            stream=httpx.ByteStream(body),
            extensions={"http_version": version, "reason_phrase": response.reason.encode("latin-1")},
        )

    def _connection(
        self, origin: tuple[str, str, int], connect_timeout: float | None, request: httpx.Request
    ) -> http.client.HTTPConnection:
        """An idle connection to `origin` the server has not closed, or a new one (connected here, so
        that a failure to connect is told apart from a failure later: only the former is retried)."""
        idle = self._idle.get(origin, [])
        while idle:
            kept = idle.pop()
            if kept.sock is not None and not _readable(kept.sock):
                return kept
            kept.close()  # readable while idle: the server closed it (or broke the protocol)
        scheme, host, port = origin
        if scheme == "https":
            if self._ssl_context is None:
                raise httpx.UnsupportedProtocol("https:// needs a TLS context", request=request)
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                host, port, timeout=connect_timeout, context=self._ssl_context
            )
        elif scheme == "http":
            connection = http.client.HTTPConnection(host, port, timeout=connect_timeout)
        else:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {scheme!r}", request=request)
        try:
            connection.connect()
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "timed out", request=request) from exc
        except OSError as exc:  # refused, unreachable, DNS, TLS handshake (certificate problems included)
            raise httpx.ConnectError(str(exc), request=request) from exc
        return connection

    def _exchange(
        self, connection: http.client.HTTPConnection, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> tuple[http.client.HTTPResponse, bytes]:
        """Send `request` on `connection` and read the whole answer."""
        assert connection.sock is not None
        headers = request.headers.raw
        chunked = any(name.lower() == b"transfer-encoding" and b"chunked" in value.lower() for name, value in headers)
        try:
            connection.sock.settimeout(timeouts.get("write"))
            connection.putrequest(request.method, request.url.raw_path.decode("ascii"), True, True)
            for name, value in headers:
                connection.putheader(name, value)  # bytes are sent as they are
            connection.endheaders(_chunks(request.stream), encode_chunked=chunked)
        except TimeoutError as exc:
            raise httpx.WriteTimeout(str(exc) or "timed out", request=request) from exc
        except OSError as exc:
            raise httpx.WriteError(str(exc), request=request) from exc
        try:
            connection.sock.settimeout(timeouts.get("read"))
            response = connection.getresponse()
            body = response.read()
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
        except http.client.HTTPException as exc:  # the server closed early or broke HTTP
            raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc), request=request) from exc
        return response, body

    def close(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()


def _chunks(stream: httpx.SyncByteStream | httpx.AsyncByteStream) -> Iterator[bytes]:
    assert isinstance(stream, httpx.SyncByteStream)
    yield from stream


def _readable(sock: socket.socket) -> bool:
    """Something (data or the end of the stream) arrived on an idle connection: it cannot be reused."""
    readable, _, _ = select.select([sock], [], [], 0)
    return bool(readable)
