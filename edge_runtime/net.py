"""The runtime's two network doors, each built in exactly one place: the WebSocket and the HTTP client.

Proxy and TLS settings belong here (and only here), so every connection the runtime makes follows them:
- Proxies: `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (and lower-case forms) from the environment, for the
  WebSocket (websockets' `proxy=True`, an HTTP CONNECT tunnel) and for HTTP (httpx's `trust_env`).
  Neither library exempts loopback by default: list `localhost,127.0.0.1` in NO_PROXY to bypass it.
- TLS: `tls.tls_context()` for both (the OS trust store plus `SSL_CERT_FILE` / `SSL_CERT_DIR`), the same
  trust as the CLI's.
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidProxy, InvalidProxyStatus, ProxyError
from websockets.proxy import get_proxy
from websockets.uri import parse_uri

from edge_protocol import __version__
from edge_protocol.limits import MAX_FRAME_BYTES

from .tls import CertificateNotTrusted, ExplainedConnectError, TlsSetupError, tls_context

__all__ = [
    "USER_AGENT",
    "WS_READ_LIMIT",
    "CertificateNotTrusted",
    "ExplainedConnectError",
    "ProxySetupError",
    "TlsSetupError",
    "http_client",
    "open_websocket",
    "tls_context",
    "websocket_proxy",
]

USER_AGENT = f"edge-connector/{__version__}"

# Frames up to twice the protocol limit are read and refused by the session with a 4000 close (a
# protocol error the peer can see); only beyond that does the library itself cut the link (1009).
WS_READ_LIMIT = 2 * MAX_FRAME_BYTES


class ProxySetupError(ExplainedConnectError):
    """The proxy from the environment is unusable or refused the tunnel; the message says what to check."""


def _without_credentials(proxy: str) -> str:
    parts = urlsplit(proxy)
    if parts.username or parts.password:
        return proxy.replace(parts.netloc, parts.netloc.rsplit("@", 1)[1], 1)
    return proxy


def websocket_proxy(url: str) -> str | None:
    """The proxy the WebSocket to `url` goes through, from the environment (None: direct).

    websockets' own lookup (the `ws`/`wss` scheme's proxy, else HTTPS_PROXY, else HTTP_PROXY; NO_PROXY
    respected), with one fix: a bare `host:port` means an HTTP proxy, as curl and httpx read it.
    """
    proxy = get_proxy(parse_uri(url))
    if proxy and "://" not in proxy:
        proxy = "http://" + proxy
    return proxy


async def open_websocket(
    url: str,
    token: str,
    *,
    heartbeat_seconds: float,
    deployment_id: str | None = None,
    open_timeout: float = 15.0,
) -> ClientConnection:
    """Open the tool-rpc WebSocket; raises websockets' `InvalidStatus` for a refused handshake.

    Pings every `heartbeat_seconds`; a peer that has not answered one within another interval is
    dead (two silent intervals, SPEC.md §7), which also catches half-open links after a network change.
    """
    secure = url.lower().startswith("wss://")
    proxy = websocket_proxy(url)
    # A context only for wss:// (websockets refuses one for ws://).
    tls = tls_context() if secure else None
    headers = {"Authorization": f"Bearer {token}"}
    if deployment_id:
        # Lets the platform refuse a duplicate before the upgrade even for a user token.
        headers["X-Deployment-Id"] = deployment_id
    try:
        return await connect(
            url,
            additional_headers=headers,
            proxy=proxy,  # HTTPS_PROXY/HTTP_PROXY/NO_PROXY: an HTTP CONNECT tunnel, as httpx below
            ssl=tls,
            user_agent_header=USER_AGENT,
            open_timeout=open_timeout,
            ping_interval=heartbeat_seconds,
            ping_timeout=heartbeat_seconds,
            close_timeout=5.0,
            max_size=WS_READ_LIMIT,
            max_queue=64,
            compression=None,  # small JSON frames: deflate costs more CPU than it saves on the call path
        )
    except ssl.SSLCertVerificationError as exc:
        raise CertificateNotTrusted(url, exc.verify_message or str(exc)) from exc
    except InvalidProxy as exc:
        raise ProxySetupError(
            f"the proxy {_without_credentials(proxy or '')} from HTTPS_PROXY/HTTP_PROXY is not usable ({exc.msg}); "
            "use http://host:port, or add the platform's host to NO_PROXY"
        ) from None
    except InvalidProxyStatus as exc:
        raise ProxySetupError(
            f"the proxy {_without_credentials(proxy or '')} refused the tunnel to {url} (HTTP {exc.response.status_code}); "
            "check the proxy's credentials and rules, or add the platform's host to NO_PROXY"
        ) from None
    except ProxyError as exc:
        raise ProxySetupError(
            f"the proxy {_without_credentials(proxy or '')} failed to open a tunnel to {url} ({exc}); "
            "check HTTPS_PROXY/HTTP_PROXY or add the platform's host to NO_PROXY"
        ) from None


#: Bytes asked of the socket per read. At httpcore's 64 KiB, a 50 MB bundle download is ~800 trips
#: through h11 and the event loop (~140 ms of CPU here, the largest part of a sync); at 1 MiB, ~200
#: (~85 ms). A read returns what has arrived, so small answers are unaffected.
HTTP_READ_BYTES = 1 << 20


def _larger_http_reads() -> None:
    """httpcore has no option for its read size, only a class constant: raised once for this process (the
    runtime's), where every HTTP/1.1 connection is this client's. Kept as it is if httpcore renames it
    (a unit test notices)."""
    from httpcore._async.http11 import AsyncHTTP11Connection

    if getattr(AsyncHTTP11Connection, "READ_NUM_BYTES", HTTP_READ_BYTES) < HTTP_READ_BYTES:
        AsyncHTTP11Connection.READ_NUM_BYTES = HTTP_READ_BYTES


def http_client(base_url: str | None = None, timeout: float = 30.0) -> httpx.AsyncClient:
    """The runtime's HTTP client (token exchange, bundle downloads)."""
    _larger_http_reads()
    return httpx.AsyncClient(
        base_url=base_url or "",
        verify=tls_context(),  # the same trust as the WebSocket (httpx alone would use certifi only)
        trust_env=True,  # HTTPS_PROXY / HTTP_PROXY / NO_PROXY
        timeout=httpx.Timeout(timeout, connect=10.0),
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,
    )
