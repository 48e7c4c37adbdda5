"""Tool secrets at rest (SPEC.md §11): AES-GCM encrypted values in the platform's SQLite file.

The key is 32 random bytes in `<data>/secrets.key` (mode 0600), made on first use; the database
holds only nonce + ciphertext, never a value in clear. The associated data binds each ciphertext to
its org, scope and name, so a row copied to another scope or org does not decrypt.

A secret belongs to an org (`deployment_id` None) or to one deployment; a deployment's effective
secrets are the org's overlaid with its own. Values leave this module only through `effective()`,
which the delivery route uses for a deployment token; listings carry names and times only.
"""

from __future__ import annotations

import os
import secrets as random
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from edge_protocol.sandbox import SECRET_NAME_RE

if TYPE_CHECKING:
    from .store import Store

KEY_FILE = "secrets.key"
MAX_VALUE_BYTES = 65_536
MAX_NAMES_PER_SCOPE = 100
_NONCE_BYTES = 12
_ORG_SCOPE = ""  # the deployment_id column of org-scoped rows (a primary key column cannot be NULL)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS secrets (
    org_id TEXT NOT NULL,
    deployment_id TEXT NOT NULL,
    name TEXT NOT NULL,
    sealed BLOB NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (org_id, deployment_id, name)
);
"""


class SecretRefused(ValueError):
    """A put the platform refuses (name, size, count); `code` is the API error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SecretInfo:
    """A secret without its value: what listings and the put answer show."""

    name: str
    deployment_id: str | None
    updated_at: str

    @property
    def scope(self) -> str:
        return "org" if self.deployment_id is None else "deployment"


def load_or_create_key(
    data_dir: Path, file_name: str = KEY_FILE, purpose: str = "the AES-256 key of the tool secrets"
) -> bytes:
    """The 256-bit key in `<data>/<file_name>` (`secrets.key`), created (0600, exclusively) when absent."""
    path = Path(data_dir) / file_name
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = random.token_bytes(32)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            return load_or_create_key(data_dir, file_name, purpose)
        with os.fdopen(fd, "wb") as handle:
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        return key
    if len(key) != 32:
        raise ValueError(
            f"{path} must hold exactly 32 bytes ({purpose}); restore it "
            "from a backup, or delete it together with every stored secret"
        )
    return key


def check_name(name: str) -> None:
    if not SECRET_NAME_RE.match(name):
        raise SecretRefused(
            "invalid_secret_name",
            f"Secret name {name!r} is not valid: use A-Z, 0-9 and _, "
            "starting with a letter or _, at most 64 characters (e.g. WEATHER_API_KEY)",
        )


def check_value(value: str) -> None:
    size = len(value.encode("utf-8"))
    if size > MAX_VALUE_BYTES:
        raise SecretRefused(
            "secret_too_large", f"The secret value is {size:,} bytes; the limit is {MAX_VALUE_BYTES:,} bytes of UTF-8"
        )


class SecretStore:
    def __init__(self, store: Store, key: bytes) -> None:
        self.store = store
        self._aead = AESGCM(key)
        with store._transaction() as db:
            db.execute(_SCHEMA)

    @classmethod
    def open(cls, store: Store) -> SecretStore:
        return cls(store, load_or_create_key(store.data_dir))

    # ------------------------------------------------------------------------------ sealing
    def _seal(self, org_id: str, scope: str, name: str, value: str) -> bytes:
        nonce = random.token_bytes(_NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, value.encode("utf-8"), _bound(org_id, scope, name))

    def _open(self, org_id: str, scope: str, name: str, sealed: bytes) -> str:
        nonce, body = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        return self._aead.decrypt(nonce, body, _bound(org_id, scope, name)).decode("utf-8")

    # ------------------------------------------------------------------------------ changes
    def put(self, org_id: str, deployment_id: str | None, name: str, value: str) -> tuple[SecretInfo, bool]:
        """Store a value; returns `(info, changed)` (False when the same value was already there)."""
        check_name(name)
        check_value(value)
        scope = deployment_id or _ORG_SCOPE
        from .store import utc_now

        with self.store._transaction() as db:
            row = db.execute(
                "SELECT sealed, updated_at FROM secrets WHERE org_id = ? AND deployment_id = ? AND name = ?",
                (org_id, scope, name),
            ).fetchone()
            if row is not None and self._open(org_id, scope, name, row["sealed"]) == value:
                return SecretInfo(name, deployment_id, row["updated_at"]), False
            if row is None:
                (count,) = db.execute(
                    "SELECT COUNT(*) FROM secrets WHERE org_id = ? AND deployment_id = ?", (org_id, scope)
                ).fetchone()
                if count >= MAX_NAMES_PER_SCOPE:
                    where = f"deployment {deployment_id}" if deployment_id else "the organization"
                    raise SecretRefused(
                        "too_many_secrets",
                        f"{where} already has {MAX_NAMES_PER_SCOPE} secrets, the "
                        "limit per scope; delete one with edge-connector secret delete NAME",
                    )
            updated_at = utc_now()
            db.execute(
                "INSERT OR REPLACE INTO secrets (org_id, deployment_id, name, sealed, updated_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (org_id, scope, name, self._seal(org_id, scope, name, value), updated_at),
            )
        return SecretInfo(name, deployment_id, updated_at), True

    def delete(self, org_id: str, deployment_id: str | None, name: str) -> bool:
        with self.store._transaction() as db:
            cursor = db.execute(
                "DELETE FROM secrets WHERE org_id = ? AND deployment_id = ? AND name = ?",
                (org_id, deployment_id or _ORG_SCOPE, name),
            )
            return cursor.rowcount > 0

    def delete_deployment(self, org_id: str, deployment_id: str) -> None:
        """A deleted deployment's own secrets go with it."""
        with self.store._transaction() as db:
            db.execute("DELETE FROM secrets WHERE org_id = ? AND deployment_id = ?", (org_id, deployment_id))

    # -------------------------------------------------------------------------------- reads
    def list_scope(self, org_id: str, deployment_id: str | None = None) -> list[SecretInfo]:
        """Names and times of one scope (the org's when `deployment_id` is None), sorted by name."""
        rows = self.store._query(
            "SELECT name, updated_at FROM secrets WHERE org_id = ? AND deployment_id = ? ORDER BY name",
            (org_id, deployment_id or _ORG_SCOPE),
        )
        return [SecretInfo(row["name"], deployment_id, row["updated_at"]) for row in rows]

    def names(self, org_id: str, deployment_id: str | None) -> set[str]:
        """Names a deployment resolves (its own and the org's), or the org's alone."""
        scopes = (_ORG_SCOPE, deployment_id) if deployment_id else (_ORG_SCOPE,)
        rows = self.store._query(
            f"SELECT DISTINCT name FROM secrets WHERE org_id = ? AND deployment_id IN ({', '.join('?' * len(scopes))})",
            (org_id, *scopes),
        )
        return {row["name"] for row in rows}

    def effective(self, org_id: str, deployment_id: str) -> dict[str, str]:
        """The values a deployment's tools see: the org's, overridden by the deployment's own."""
        rows = self.store._query(
            "SELECT deployment_id, name, sealed FROM secrets WHERE org_id = ? AND deployment_id IN (?, ?)"
            " ORDER BY deployment_id = ?, name",
            (org_id, _ORG_SCOPE, deployment_id, deployment_id),
        )
        return {row["name"]: self._open(org_id, row["deployment_id"], row["name"], row["sealed"]) for row in rows}

    def values(self) -> list[str]:
        """Every stored value (the platform log's redactor is primed with them at start)."""
        rows = self.store._query("SELECT org_id, deployment_id, name, sealed FROM secrets")
        return [self._open(r["org_id"], r["deployment_id"], r["name"], r["sealed"]) for r in rows]


def _bound(org_id: str, scope: str, name: str) -> bytes:
    return f"edge-secret\x00{org_id}\x00{scope}\x00{name}".encode()
