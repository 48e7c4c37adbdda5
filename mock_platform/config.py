"""Settings of one mock platform process."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path


@dataclass
class PlatformConfig:
    data_dir: Path = Path(".mock-platform")
    host: str = "127.0.0.1"
    port: int = 8000
    #: HS256 secret; None = generated once into `<data_dir>/jwt-secret` (mode 0600).
    jwt_secret: str | None = None
    #: Dev mode enables /api/dev/tokens and /api/sim/*; on by default on loopback.
    dev: bool = True
    #: Ping interval the hub announces and uses; a connector silent for 2 intervals is dropped.
    heartbeat_seconds: float = 30.0
    #: Lifetime of tokens from dev-login and the browser flow.
    user_token_ttl_seconds: int = 7 * 24 * 3600
    #: Lifetime of deployment tokens from /oauth/token.
    deployment_token_ttl_seconds: int = 3600
    #: Connector handshakes admitted per second; faster arrivals get 503 + Retry-After (SPEC.md §14).
    handshake_rate: float = 2000.0
    #: `/oauth/token` limits (guessing, and old scrypt rows cost tens of ms): per client id, and per client address.
    oauth_per_client: tuple[float, int] = (0.5, 10)  # (requests per second, burst)
    oauth_per_address: tuple[float, int] = (5.0, 50)


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback address: where dev mode is on by default and login callbacks may go."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
