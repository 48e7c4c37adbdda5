"""Read a JWT's claims on the CLI side, without the secret: enough to check shape, expiry and org.

The reading and the messages are `edge_protocol.tokens`' (shared with the runtime and the platform);
this module only adds what the CLI tells the user to do about each refusal.
"""

from __future__ import annotations

from edge_protocol import tokens
from edge_protocol.tokens import TokenClaims

from .client import NO_ORG_HINT, REAUTH_HINT
from .errors import CliError

COPY_HINT = "Copy the whole token shown by the platform's sign-in page"
ISSUED_HINT = "Use a token issued by the platform"


def read_claims(token: str) -> TokenClaims:
    """Decode without verifying the signature (only the platform holds the secret)."""
    try:
        claims = tokens.read_unverified(token)
    except tokens.TokenError as exc:
        raise CliError(exc.message, COPY_HINT) from None
    if claims.algorithm != "HS256":
        raise CliError(tokens.token_invalid_message(f"algorithm {claims.algorithm!r} is not HS256"), ISSUED_HINT)
    if not claims.sub:
        raise CliError(tokens.token_invalid_message("it has no subject ('sub')"), ISSUED_HINT)
    return claims


def check_usable(info: TokenClaims) -> None:
    """The two refusals a user can fix before ever calling the platform."""
    try:
        tokens.check_usable(info)
    except tokens.TokenError as exc:
        raise CliError(exc.message, REAUTH_HINT if exc.code == tokens.CODE_TOKEN_EXPIRED else NO_ORG_HINT) from None
