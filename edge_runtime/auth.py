"""Where the runtime's bearer token comes from (SPEC.md §6, §8).

Two sources, chosen by the settings:
- `FileToken`: `auth-token.json` (or `authTokenPath`), written by `edge-connector auth`. Re-read on
  every connect attempt, so `edge-connector auth --token <new-token>` fixes a running runtime
  without a restart.
- `ClientCredentials`: `DEPLOYMENT_ID` + `DEPLOYMENT_SECRET` exchanged at `POST /oauth/token`, cached,
  and exchanged again before it expires (`refresh_margin`); the runtime hands each fresh token to the
  open link (`connector.reauth`, SPEC.md §16), so the link outlives its tokens.

The runtime only *reads* claims (expiry, organization) to explain problems early, with the shared
reader of `edge_protocol.tokens`; the platform is the one that verifies signatures.
"""

from __future__ import annotations

import asyncio
import errno
import json
import time
from pathlib import Path
from typing import Any, Protocol

import httpx

from edge_protocol import tokens
from edge_protocol.tokens import TokenClaims

from .logs import register_secret

REAUTH_COMMANDS = "edge-connector auth --browser or edge-connector auth --token <new-token>"
TOKEN_EXPIRED = tokens.TOKEN_EXPIRED
NO_TOKEN = tokens.NO_TOKEN
NO_ORGANIZATION = tokens.NO_ORGANIZATION
CREDENTIALS_INVALID = "Deployment credentials invalid"


class AuthProblem(Exception):
    """The runtime cannot authenticate. `fatal` problems stop `start` with exit 1; others are retried."""

    def __init__(self, message: str, *, fatal: bool = True, code: str = "auth") -> None:
        super().__init__(message)
        self.message = message
        self.fatal = fatal
        self.code = code


def token_expired_message() -> str:
    return f"{TOKEN_EXPIRED}: re-authenticate with {REAUTH_COMMANDS}"


def no_organization_message() -> str:
    return (
        f"{NO_ORGANIZATION}: the JWT must contain an orgId claim or an orgs map; log in to an "
        f"organization and save a new token with {REAUTH_COMMANDS}"
    )


def read_claims(token: str) -> TokenClaims:
    """The claims of a saved token, read without its signature (`edge_protocol.tokens`)."""
    try:
        return tokens.read_unverified(token)
    except tokens.TokenError as exc:
        raise AuthProblem(
            tokens.token_invalid_message(
                f"the saved token is not a JWT ({exc.reason}); save a new one with {REAUTH_COMMANDS}"
            ),
            code="token_invalid",
        ) from None


class TokenSource(Protocol):
    """What the session, the sync and the status page ask of a token source."""

    description: str

    async def token(self) -> str: ...

    def check_at_start(self) -> TokenClaims | None: ...

    def invalidate(self) -> None: ...


class FileToken:
    """The token saved by `edge-connector auth` in the installation directory (or `authTokenPath`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.description = f"token file {self.path}"

    def read(self) -> str:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise AuthProblem(
                f"{NO_TOKEN}: looked for the token file {self.path} (authTokenPath / AUTH_TOKEN_PATH) and for "
                f"DEPLOYMENT_ID + DEPLOYMENT_SECRET in the environment; run {REAUTH_COMMANDS}, "
                "or set DEPLOYMENT_ID and DEPLOYMENT_SECRET",
                code="no_token",
            ) from None
        except OSError as exc:
            raise AuthProblem(
                f"Cannot read the token file {self.path}: {exc.strerror}; check its permissions", code="no_token"
            ) from None
        try:
            data = json.loads(text)
            token = data["token"] if isinstance(data, dict) else None
        except (ValueError, KeyError):
            token = None
        if not isinstance(token, str) or not token.strip():
            raise AuthProblem(
                f'{NO_TOKEN}: {self.path} holds no "token" field; save one with {REAUTH_COMMANDS}',
                code="no_token",
            )
        token = token.strip()
        register_secret(token)
        return token

    def check_at_start(self) -> TokenClaims:
        """Refuse to start on a token that cannot work: missing, not a JWT, expired or org-less."""
        info = read_claims(self.read())
        if info.expired():
            raise AuthProblem(token_expired_message(), code="token_expired")
        if not info.org_id:
            raise AuthProblem(no_organization_message(), code="no_organization")
        return info

    async def token(self) -> str:
        # Read fresh each time: the operator may have saved a new token since the last attempt.
        return self.read()

    def invalidate(self) -> None:
        pass


class ClientCredentials:
    """A deployment token from `POST /oauth/token` (client credentials), refreshed before it expires."""

    def __init__(self, platform_url: str, deployment_id: str, secret: str, http: httpx.AsyncClient) -> None:
        self.platform_url = platform_url.rstrip("/")
        self.deployment_id = deployment_id
        self._secret = secret
        self._http = http
        self._token: str | None = None
        self._refresh_at = 0.0
        self._lock = asyncio.Lock()
        self.description = f"client credentials of deployment {deployment_id}"
        register_secret(secret)

    def check_at_start(self) -> None:
        return None  # checked at the first exchange: the platform may not be up yet

    def invalidate(self) -> None:
        """Forget the cached token (the platform said it expired): the next `token()` exchanges again."""
        self._token = None

    def seconds_until_refresh(self) -> float:
        """How long the cached token is still used before `token()` exchanges a new one (0: now)."""
        if self._token is None:
            return 0.0
        return max(0.0, self._refresh_at - time.monotonic())

    async def token(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() >= self._refresh_at:
                await self._exchange()
            assert self._token is not None
            return self._token

    async def _exchange(self) -> None:
        url = f"{self.platform_url}/oauth/token"
        try:
            response = await self._http.post(
                url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.deployment_id,
                    "client_secret": self._secret,
                },
                timeout=15.0,
            )
        except httpx.HTTPError as exc:
            raise AuthProblem(
                f"Cannot reach {url} to exchange the deployment credentials: {_describe(exc)}",
                fatal=False,
                code="unreachable",
            ) from None
        if response.status_code in (400, 401, 403):
            raise AuthProblem(
                f"{CREDENTIALS_INVALID}: the platform refused DEPLOYMENT_ID {self.deployment_id} and its "
                "DEPLOYMENT_SECRET; verify both values are correct and the deployment exists "
                "(edge-connector deployment list; edge-connector deployment rotate-secret ID for a new secret)",
                code="invalid_client",
            )
        if response.status_code != 200:
            raise AuthProblem(
                f"{url} answered HTTP {response.status_code} to the credentials exchange",
                fatal=False,
                code="unavailable",
            )
        try:
            body: Any = response.json()
            token = body["access_token"]
            lifetime = float(body.get("expires_in", 3600))
        except (ValueError, KeyError, TypeError):
            raise AuthProblem(f"{url} answered without an access_token", fatal=False, code="unavailable") from None
        register_secret(token)
        self._token = token
        self._refresh_at = time.monotonic() + lifetime - refresh_margin(lifetime)


def refresh_margin(lifetime: float) -> float:
    """How long before expiry a token is replaced: a fifth of its lifetime and at least 30 s, but never more
    than half of it (a token that lives 5 s is replaced after 2.5 s, not at once and over and over)."""
    return min(max(30.0, lifetime / 5), lifetime / 2)


def _describe(exc: Exception) -> str:
    if _refused(exc):
        return "ECONNREFUSED (connection refused): is the platform running at this URL? Check TOOL_RPC_URL"
    return str(exc) or type(exc).__name__


def _refused(exc: BaseException | None, depth: int = 0) -> bool:
    """Somewhere in the cause chain (or exception group) the connection was refused."""
    if exc is None or depth > 8:
        return False
    if isinstance(exc, ConnectionRefusedError) or getattr(exc, "errno", None) == errno.ECONNREFUSED:
        return True
    if any(_refused(inner, depth + 1) for inner in getattr(exc, "exceptions", ()) or ()):
        return True
    return _refused(exc.__cause__ or exc.__context__, depth + 1)
