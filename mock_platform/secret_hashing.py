"""How the platform stores deployment secrets: HMAC-SHA256 under a server key (`<data>/deployment-secrets.key`).

A deployment secret is 256 random bits, not a password: nobody can guess it offline, so a slow hash
(scrypt: ~16 MiB and tens of ms per `/oauth/token`) buys nothing and hands callers a lever on the
platform's memory and CPU. A keyed SHA-256 is what services keep for their API tokens: a stolen
database alone cannot even test guesses without the key file (0600, created on first start).

Rows written by older platforms hold `scrypt$N$r$p$salt$digest`; they can only be checked with scrypt,
so they still verify the old way and the store rewrites them as HMAC at their next successful check
(`needs_rehash`). Comparisons are constant-time (`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from .secrets_store import load_or_create_key

KEY_FILE = "deployment-secrets.key"
HMAC_SCHEME = "hmac-sha256"
_LEGACY_SCHEME = "scrypt"


class SecretHasher:
    """Hashes and checks deployment secrets with one server key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> SecretHasher:
        return cls(load_or_create_key(data_dir, KEY_FILE, purpose="the HMAC key of the deployment secrets"))

    def hash(self, secret: str) -> str:
        return f"{HMAC_SCHEME}${self._digest(secret)}"

    def matches(self, secret: str, stored: str) -> bool:
        scheme, _, rest = stored.partition("$")
        if scheme == HMAC_SCHEME:
            return hmac.compare_digest(self._digest(secret), rest)
        if scheme == _LEGACY_SCHEME:
            return _legacy_scrypt_matches(secret, rest)
        return False

    @staticmethod
    def needs_rehash(stored: str) -> bool:
        """True for a row in an older format, to be rewritten once its secret has been checked."""
        return not stored.startswith(HMAC_SCHEME + "$")

    def _digest(self, secret: str) -> str:
        return hmac.new(self._key, secret.encode("utf-8"), hashlib.sha256).hexdigest()


def _legacy_scrypt_matches(secret: str, rest: str) -> bool:
    try:
        n, r, p, salt_hex, digest_hex = rest.split("$")
        digest = hashlib.scrypt(
            secret.encode("utf-8"), salt=bytes.fromhex(salt_hex), n=int(n), r=int(r), p=int(p), dklen=32
        )
        return hmac.compare_digest(digest, bytes.fromhex(digest_hex))
    except (ValueError, TypeError):
        return False
