"""JWTs of the platform (SPEC.md §5): HS256 only, claims `sub`, `orgId`/`orgs`, `exp`, `iat`, `deploymentId`.

`TokenService` issues and verifies; `current_principal` / `current_user` are the FastAPI dependencies
every `/api/` route uses. Refusals carry exactly the handshake codes and messages of SPEC.md §7 so the
CLI and the runtime can quote them to the user.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from fastapi import Request

from edge_protocol import tokens as shared
from edge_protocol.jsonrpc import HANDSHAKE_NO_ORGANIZATION, HANDSHAKE_TOKEN_EXPIRED, HANDSHAKE_UNAUTHENTICATED
from edge_protocol.tokens import TokenClaims

from .config import PlatformConfig
from .errors import ApiError

ALGORITHM = "HS256"
SECRET_FILE = "jwt-secret"
VERIFIED_CACHE_SIZE = 4096


class AuthError(ApiError):
    """A token refused; `status`, `code`, `message` are the ones of SPEC.md §5/§7."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, code, message)
        if status == 401:
            self.headers = {"WWW-Authenticate": "Bearer"}


def unauthenticated() -> AuthError:
    return AuthError(*HANDSHAKE_UNAUTHENTICATED)


def token_expired() -> AuthError:
    return AuthError(*HANDSHAKE_TOKEN_EXPIRED)


def token_invalid(why: str) -> AuthError:
    return AuthError(401, shared.CODE_TOKEN_INVALID, shared.token_invalid_message(why))


def no_organization() -> AuthError:
    return AuthError(*HANDSHAKE_NO_ORGANIZATION)


#: Verified claims: the shared model, so the org rule and the shape checks are written once.
Claims = TokenClaims


@dataclass(frozen=True)
class Principal:
    """Who is calling: a user (deployment_id None) or a connector acting as one deployment."""

    sub: str
    org_id: str
    deployment_id: str | None = None

    @property
    def is_deployment(self) -> bool:
        return self.deployment_id is not None


class TokenService:
    def __init__(self, secret: str) -> None:
        # RFC 7518 §3.2: an HS256 key shorter than the hash output (32 bytes) weakens the signature.
        if len(secret.encode("utf-8")) < 32:
            raise ValueError("the JWT secret must be at least 32 bytes long (e.g. `openssl rand -hex 32`)")
        self._secret = secret
        # Verified tokens, so the tool-call hot path does not re-check the same signature on every call
        # (~35 µs each); the expiry is still checked on every use.
        self._verified: OrderedDict[str, Claims] = OrderedDict()
        self._verified_lock = threading.Lock()

    @classmethod
    def for_config(cls, config: PlatformConfig) -> TokenService:
        """Use `--jwt-secret`, else the secret generated once into the data dir (mode 0600)."""
        if config.jwt_secret:
            return cls(config.jwt_secret)
        return cls(load_or_create_secret(Path(config.data_dir) / SECRET_FILE))

    def issue(
        self,
        sub: str,
        org_id: str | None = None,
        orgs: dict[str, str] | None = None,
        expires_in: int = 3600,
        deployment_id: str | None = None,
    ) -> str:
        """Sign a token; a negative `expires_in` gives an already expired one (tests need those)."""
        now = int(time.time())
        claims: dict[str, Any] = {"sub": sub, "iat": now, "exp": now + int(expires_in)}
        if org_id:
            claims["orgId"] = org_id
        if orgs:
            claims["orgs"] = dict(orgs)
        if deployment_id:
            claims["deploymentId"] = deployment_id
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def decode(self, token: str) -> Claims:
        """Signature, expiry and shape; an org-less token passes here (see `verify`)."""
        with self._verified_lock:
            cached = self._verified.get(token)
        if cached is not None:
            if cached.expired():
                raise token_expired()
            return cached
        claims = self._decode_uncached(token)
        with self._verified_lock:
            self._verified[token] = claims
            if len(self._verified) > VERIFIED_CACHE_SIZE:
                self._verified.popitem(last=False)
        return claims

    def _decode_uncached(self, token: str) -> Claims:
        try:
            data = jwt.decode(token, self._secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "iat"]})
        except jwt.ExpiredSignatureError:
            raise token_expired() from None
        except jwt.InvalidTokenError as exc:
            raise token_invalid(str(exc) or type(exc).__name__) from None
        try:
            claims = shared.claims_from_payload(data, algorithm=ALGORITHM)
        except shared.TokenError as exc:
            raise AuthError(401, exc.code, exc.message) from None
        if not claims.sub:
            raise token_invalid("'sub' must be a non-empty string")
        return claims

    def verify(self, token: str | None) -> Claims:
        """`decode`, then require one organization: what every `/api/` route and the handshake need."""
        if not token:
            raise unauthenticated()
        claims = self.decode(token)
        if not claims.org_id:
            raise no_organization()
        return claims


def load_or_create_secret(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return path.read_text("utf-8").strip()
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(48)
    # O_EXCL: two processes starting on one data dir must not each write a different secret.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text("utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return secret


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise token_invalid("the Authorization header must be 'Bearer <token>'")
    return value.strip()


def principal_from_token(request: Request, token: str | None) -> Principal:
    platform = request.app.state.platform
    claims = platform.tokens.verify(token)
    # A deleted deployment's tokens die with it, instead of living until they expire.
    if claims.deployment_id is not None and platform.store.get_deployment(claims.org_id, claims.deployment_id) is None:
        raise token_invalid("the deployment of this token no longer exists")
    return Principal(claims.sub, claims.org_id, claims.deployment_id)


# What a deployment token may reach (SPEC.md §9): its own assignment, archives (the route checks that
# the bundle is the one assigned to it) and its own secrets; `/tool-rpc` checks tokens itself. One
# allow-list here, so a new route refuses deployment tokens unless it is added on purpose.
_DEPLOYMENT_ROUTES = (
    ("GET", re.compile(r"^/api/connectors/assignment$")),
    ("GET", re.compile(r"^/api/bundles/.+/versions/[^/]+/archive$")),
    ("GET", re.compile(r"^/api/deployments/[^/]+/secrets$")),
)


def deployment_token_may(method: str, path: str) -> bool:
    return any(method == allowed and pattern.match(path) for allowed, pattern in _DEPLOYMENT_ROUTES)


def user_token_required() -> ApiError:
    return ApiError(
        403,
        "user_token_required",
        "This route needs a user token; deployment tokens may only fetch their assignment, archives and secrets",
    )


# The dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in its threadpool,
# and that hop would cost more than the check itself (a JWT decode and, for deployment tokens, one
# indexed SQLite read) on every tool call.
async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: a user token, or a deployment token on the routes of `_DEPLOYMENT_ROUTES`."""
    principal = principal_from_token(request, bearer_token(request))
    if principal.is_deployment and not deployment_token_may(request.method, request.url.path):
        raise user_token_required()
    return principal


async def current_user(request: Request) -> Principal:
    """FastAPI dependency: a user token only."""
    principal = principal_from_token(request, bearer_token(request))
    if principal.is_deployment:
        raise user_token_required()
    return principal
