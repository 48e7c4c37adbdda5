"""Read a JWT's claims on the CLI side, without the secret: enough to check shape, expiry and org."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .client import NO_ORG_HINT, REAUTH_HINT
from .errors import CliError


@dataclass(frozen=True)
class TokenInfo:
    sub: str
    org_id: str | None
    orgs: dict[str, str]
    deployment_id: str | None
    exp: int | None

    @property
    def expired(self) -> bool:
        return self.exp is not None and self.exp <= time.time()

    @property
    def expires_at(self) -> str | None:
        if self.exp is None:
            return None
        return datetime.fromtimestamp(self.exp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_claims(token: str) -> TokenInfo:
    """Decode without verifying the signature (only the platform holds the secret)."""
    if token.count(".") != 2:
        raise CliError("That is not a JWT (expected three dot-separated parts)",
                       "Copy the whole token shown by the platform's sign-in page")
    import jwt  # here, not at the top: PyJWT loads cryptography's OpenSSL (8.5 MB) into every CLI process, `start` included

    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
    except jwt.InvalidTokenError as exc:
        raise CliError(f"Token validation failed: {exc}", "Copy the whole token shown by the platform's sign-in page") from None
    if header.get("alg") != "HS256":
        raise CliError(f"Token validation failed: algorithm {header.get('alg')!r} is not HS256",
                       "Use a token issued by the platform")
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise CliError("Token validation failed: it has no subject ('sub')", "Use a token issued by the platform")
    raw_orgs = claims.get("orgs")
    orgs: dict[Any, Any] = raw_orgs if isinstance(raw_orgs, dict) else {}
    org_id = claims.get("orgId") if isinstance(claims.get("orgId"), str) and claims.get("orgId") else None
    exp = claims.get("exp")
    return TokenInfo(
        sub=sub,
        org_id=org_id or next(iter(orgs), None),
        orgs={str(k): str(v) for k, v in orgs.items()},
        deployment_id=claims.get("deploymentId") if isinstance(claims.get("deploymentId"), str) else None,
        exp=int(exp) if isinstance(exp, (int, float)) and not isinstance(exp, bool) else None,
    )


def check_usable(info: TokenInfo) -> None:
    """The two refusals a user can fix before ever calling the platform."""
    if info.expired:
        raise CliError("Token has expired", REAUTH_HINT)
    if not info.org_id:
        raise CliError("No organization in token", NO_ORG_HINT)
