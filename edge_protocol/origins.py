"""Where a credential may be sent (SPEC.md §9): origins, loopback, and the plain-text rule.

Pure functions shared by the CLI and the runtime, so both apply one rule: a token or a deployment
secret goes over plain `http://`/`ws://` only to a loopback host, unless `EC_ALLOW_INSECURE=1`
says the network is trusted; and a saved token goes only to the origin it was saved for.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from urllib.parse import urlsplit

ALLOW_INSECURE_ENV = "EC_ALLOW_INSECURE"
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_PLAINTEXT = ("http", "ws")


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def origin_of(url: str) -> str:
    """`scheme://host:port` with the default port made explicit and names lowercased.

    `ws`/`wss` count as `http`/`https`: a connector's `TOOL_RPC_URL` and the archive URLs it fetches
    live on one platform. Raises ValueError for a URL without scheme or host.
    """
    parts = urlsplit(url.strip())
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme.lower(), parts.scheme.lower())
    host = parts.hostname
    if scheme not in ("http", "https") or not host:
        raise ValueError(f"{url!r} is not an http(s) or ws(s) URL with a host")
    port = parts.port or _DEFAULT_PORTS[scheme]
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def same_origin(a: str, b: str) -> bool:
    try:
        return origin_of(a) == origin_of(b)
    except ValueError:
        return False


def insecure_allowed(environ: Mapping[str, str]) -> bool:
    return environ.get(ALLOW_INSECURE_ENV, "").strip() == "1"


def plaintext_to_remote(url: str) -> bool:
    """True when a credential sent to `url` would cross a network in clear text."""
    parts = urlsplit(url.strip())
    return parts.scheme.lower() in _PLAINTEXT and not is_loopback_host(parts.hostname)


def insecure_refusal(url: str, what: str = "a credential") -> str | None:
    """The refusal for sending `what` to `url` in clear text, or None when that is allowed (no env check)."""
    if not plaintext_to_remote(url):
        return None
    host = urlsplit(url.strip()).hostname
    return (
        f"Refusing to send {what} over plain {urlsplit(url.strip()).scheme}:// to {host}, which is not "
        f"loopback: use https:// (wss://), or set {ALLOW_INSECURE_ENV}=1 if this network is trusted"
    )
