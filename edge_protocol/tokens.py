"""What every side knows about a JWT without holding its secret (SPEC.md §5, §7, §8).

One reader of claims, one organization rule and one set of messages for the CLI, the runtime and the
platform. Verifying a signature stays where the secret is (`mock_platform.auth`); the platform hands
the payload it verified to `claims_from_payload`, so the shape rules are written once.

The payload is decoded by hand rather than with PyJWT: importing PyJWT loads cryptography's OpenSSL
(8.5 MB of the idle runtime's 60 MB budget) to read a few claims.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: The canonical messages (SPEC.md §7, §8 and the troubleshooting page quote them word for word).
TOKEN_EXPIRED = "Token has expired"
NO_ORGANIZATION = "No organization in token"
NO_TOKEN = "No authentication token found"
TOKEN_INVALID_PREFIX = "Token validation failed: "

#: Handshake and REST error codes that go with them.
CODE_TOKEN_EXPIRED = "token_expired"
CODE_TOKEN_INVALID = "token_invalid"
CODE_NO_ORGANIZATION = "no_organization"
CODE_UNAUTHENTICATED = "unauthenticated"


def token_invalid_message(why: str) -> str:
    """`Token validation failed: <why>`."""
    return TOKEN_INVALID_PREFIX + why


class TokenError(ValueError):
    """A token whose claims cannot be used; `code` is the wire code, `message` the canonical text."""

    def __init__(self, code: str, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason  # the part after `Token validation failed: `, for callers that rephrase it


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The claims of SPEC.md §5 in Python names; `org_id` already follows the organization rule."""

    sub: str | None
    org_id: str | None
    orgs: dict[str, str] = field(default_factory=dict)
    deployment_id: str | None = None
    exp: int | None = None
    iat: int | None = None
    algorithm: str | None = None  # from the header, when read unverified

    def expired(self, now: float | None = None) -> bool:
        return self.exp is not None and self.exp <= (time.time() if now is None else now)

    def expiry_iso(self) -> str | None:
        """`exp` as `2026-11-28T10:00:00Z`, or None for a token that never expires."""
        if self.exp is None:
            return None
        return datetime.fromtimestamp(self.exp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def organization(org_id: Any, orgs: Any) -> str | None:
    """The organization a token acts for: `orgId`, else the first key of `orgs`, else none."""
    if isinstance(org_id, str) and org_id:
        return org_id
    if isinstance(orgs, dict):
        return next((str(key) for key in orgs), None)
    return None


def claims_from_payload(payload: Any, *, algorithm: str | None = None) -> TokenClaims:
    """Check the shape of a JWT payload and name the claim that is wrong (`TokenError` token_invalid)."""
    if not isinstance(payload, dict):
        raise _invalid("the payload is not a JSON object")
    sub = payload.get("sub")
    if sub is not None and (not isinstance(sub, str) or not sub):
        raise _invalid("'sub' must be a non-empty string")
    orgs = payload.get("orgs")
    if orgs is None:
        orgs = {}
    if not isinstance(orgs, dict) or not all(isinstance(key, str) for key in orgs):
        raise _invalid("'orgs' must be an object mapping organization ids to roles")
    org_id = payload.get("orgId")
    if org_id is not None and (not isinstance(org_id, str) or not org_id):
        raise _invalid("'orgId' must be a non-empty string")
    deployment_id = payload.get("deploymentId")
    if deployment_id is not None and not isinstance(deployment_id, str):
        raise _invalid("'deploymentId' must be a string")
    return TokenClaims(
        sub=sub,
        org_id=organization(org_id, orgs),
        orgs={key: str(value) for key, value in orgs.items()},
        deployment_id=deployment_id or None,
        exp=_number(payload, "exp"),
        iat=_number(payload, "iat"),
        algorithm=algorithm,
    )


def read_unverified(token: str) -> TokenClaims:
    """The claims of a JWT, signature not checked (only the platform can); `TokenError` if it is no JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        raise _invalid("expected three dot-separated parts", not_a_jwt=True)
    payload = _segment(parts[1], "payload")
    try:  # only the CLI looks at the algorithm; an unreadable header just leaves it unknown
        header = _segment(parts[0], "header")
    except TokenError:
        header = None
    algorithm = header.get("alg") if isinstance(header, dict) else None
    return claims_from_payload(payload, algorithm=algorithm if isinstance(algorithm, str) else None)


def check_usable(claims: TokenClaims, now: float | None = None) -> None:
    """The two refusals anyone can make before asking the platform: expired, no organization."""
    if claims.expired(now):
        raise TokenError(CODE_TOKEN_EXPIRED, TOKEN_EXPIRED)
    if not claims.org_id:
        raise TokenError(CODE_NO_ORGANIZATION, NO_ORGANIZATION)


def _segment(text: str, what: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise _invalid(f"undecodable {what}: {exc}", not_a_jwt=True) from None


def _number(payload: dict[str, Any], key: str) -> int | None:
    value = payload.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid(f"'{key}' must be a number of seconds")
    return int(value)


def _invalid(why: str, not_a_jwt: bool = False) -> TokenError:
    return TokenError(CODE_TOKEN_INVALID, token_invalid_message(f"not a JWT ({why})" if not_a_jwt else why), why)
