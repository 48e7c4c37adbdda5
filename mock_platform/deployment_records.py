"""Deployments and their secrets, kept as keyed hashes (`secret_hashing`): the clear secret exists only in
the answer that made it."""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .database import Database, utc_now
from .secret_hashing import SecretHasher


@dataclass(frozen=True)
class Deployment:
    id: str
    org_id: str
    name: str
    created_at: str
    secret_rotated_at: str | None = None
    #: How many connectors may hold the deployment at once (SPEC.md §14).
    replicas: int = 1


def new_secret() -> str:
    return "ecs_" + secrets.token_urlsafe(32)


class DeploymentRecords(Database):
    """Deployments; a secret is checked against its keyed hash in constant time whether the deployment exists or not."""

    def __init__(self, data_dir: Path | str) -> None:
        super().__init__(data_dir)
        self._hasher = SecretHasher.for_data_dir(self.data_dir)
        # Checked against when the deployment does not exist, so a wrong id costs as long as a wrong secret.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def create_deployment(self, org_id: str, name: str, replicas: int = 1) -> tuple[Deployment, str]:
        """A new deployment and its secret; the secret exists in clear only in this return value."""
        secret = new_secret()
        hashed = self._hasher.hash(secret)
        deployment = Deployment("dep-" + secrets.token_hex(6), org_id, name, utc_now(), replicas=replicas)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO deployments (id, org_id, name, secret_hash, created_at, replicas) VALUES (?, ?, ?, ?, ?, ?)",
                (deployment.id, org_id, name, hashed, deployment.created_at, replicas),
            )
        return deployment, secret

    def set_replicas(self, org_id: str, deployment_id: str, replicas: int) -> Deployment | None:
        """Change how many connectors may hold the deployment; None when it does not exist."""
        with self._transaction() as db:
            db.execute(
                "UPDATE deployments SET replicas = ? WHERE id = ? AND org_id = ?", (replicas, deployment_id, org_id)
            )
        return self.get_deployment(org_id, deployment_id)

    def get_deployment(self, org_id: str, deployment_id: str) -> Deployment | None:
        rows = self._query("SELECT * FROM deployments WHERE id = ? AND org_id = ?", (deployment_id, org_id))
        return _deployment(rows[0]) if rows else None

    def list_deployments(self, org_id: str) -> list[Deployment]:
        rows = self._query("SELECT * FROM deployments WHERE org_id = ? ORDER BY created_at, id", (org_id,))
        return [_deployment(r) for r in rows]

    def delete_deployment(self, org_id: str, deployment_id: str) -> bool:
        with self._transaction() as db:
            deleted = db.execute(
                "DELETE FROM deployments WHERE id = ? AND org_id = ?", (deployment_id, org_id)
            ).rowcount
            if deleted:
                db.execute("DELETE FROM assignments WHERE deployment_id = ?", (deployment_id,))
        return bool(deleted)

    def rotate_secret(self, org_id: str, deployment_id: str) -> str | None:
        secret = new_secret()
        hashed = self._hasher.hash(secret)
        with self._transaction() as db:
            changed = db.execute(
                "UPDATE deployments SET secret_hash = ?, secret_rotated_at = ? WHERE id = ? AND org_id = ?",
                (hashed, utc_now(), deployment_id, org_id),
            ).rowcount
        return secret if changed else None

    def verify_deployment_secret(self, deployment_id: str, secret: str) -> Deployment | None:
        rows = self._query("SELECT * FROM deployments WHERE id = ?", (deployment_id,))
        stored = rows[0]["secret_hash"] if rows else self._dummy_hash
        if not (self._hasher.matches(secret, stored) and rows):
            return None
        if self._hasher.needs_rehash(stored):  # an older platform's scrypt row: rewrite it once, now we know the secret
            with self._transaction() as db:  # only if not rotated meanwhile
                db.execute(
                    "UPDATE deployments SET secret_hash = ? WHERE id = ? AND secret_hash = ?",
                    (self._hasher.hash(secret), deployment_id, stored),
                )
        return _deployment(rows[0])


def _deployment(row: sqlite3.Row) -> Deployment:
    return Deployment(
        row["id"], row["org_id"], row["name"], row["created_at"], row["secret_rotated_at"], row["replicas"]
    )
