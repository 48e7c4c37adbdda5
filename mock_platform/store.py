"""Everything the platform remembers: SQLite (WAL) at `<data>/platform.db`, archives named by their SHA-256.

Orgs, users, deployments (secrets as keyed hashes: `secret_hashing`), bundle versions, the org default and per-deployment
assignments. One connection guarded by a lock: FastAPI runs sync routes in a threadpool, and SQLite
calls here are short, so serialising them is simpler and safer than a pool. Nothing is cached in
memory, so a restart loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edge_protocol.manifest import Manifest
from edge_protocol.messages import BundleRef
from edge_protocol.routes import archive_path

from .secret_hashing import SecretHasher

_SCHEMA = """
CREATE TABLE IF NOT EXISTS orgs (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    sub TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS memberships (
    sub TEXT NOT NULL,
    org_id TEXT NOT NULL,
    role TEXT NOT NULL,
    PRIMARY KEY (sub, org_id)
);
CREATE TABLE IF NOT EXISTS deployments (
    id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    secret_rotated_at TEXT,
    replicas INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS invites (
    org_id TEXT NOT NULL,
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    invited_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (org_id, email)
);
CREATE INDEX IF NOT EXISTS deployments_by_org ON deployments (org_id);
CREATE TABLE IF NOT EXISTS bundle_versions (
    org_id TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    checksum TEXT NOT NULL,
    size INTEGER NOT NULL,
    tools TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (org_id, name, version),
    UNIQUE (org_id, name, checksum)
);
CREATE TABLE IF NOT EXISTS org_defaults (
    org_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER
);
CREATE TABLE IF NOT EXISTS assignments (
    deployment_id TEXT PRIMARY KEY,
    org_id TEXT NOT NULL,
    name TEXT NOT NULL,
    version INTEGER
);
"""

_ID_SAFE = re.compile(r"[^a-z0-9-]+")


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class NotAMember(Exception):
    """Signing in to an existing organization without being a member or invited (SPEC.md §9)."""

    def __init__(self, org_id: str) -> None:
        super().__init__(org_id)
        self.org_id = org_id


# ------------------------------------------------------------------------------------ records
@dataclass(frozen=True)
class Deployment:
    id: str
    org_id: str
    name: str
    created_at: str
    secret_rotated_at: str | None = None
    #: How many connectors may hold the deployment at once (SPEC.md §14).
    replicas: int = 1


@dataclass(frozen=True)
class BundleVersion:
    org_id: str
    name: str
    version: int
    checksum: str
    size: int
    tools: list[dict[str, Any]]
    created_at: str
    #: What the bundle asks of the runtime (manifest `sandbox`, SPEC.md §10-§11); {} for the default sandbox.
    sandbox: dict[str, Any] = field(default_factory=dict)
    #: SHA-256 of the stored archive file itself (None for versions stored before it was recorded).
    archive_sha256: str | None = None

    @property
    def archive_url(self) -> str:
        return archive_url(self.name, self.version)


@dataclass(frozen=True)
class Assignment:
    """A default or a deployment's assignment; `version` None tracks the newest version of `name`."""

    name: str
    version: int | None
    deployment_id: str | None = None


@dataclass(frozen=True)
class ResolvedBundle:
    name: str
    version: int
    checksum: str
    size: int
    tools: list[dict[str, Any]] = field(default_factory=list)

    @property
    def archive_url(self) -> str:
        return archive_url(self.name, self.version)

    def ref(self) -> BundleRef:
        """As the wire names it: `assignedBundle` of `connector.hello`, `bundle.updated`, the assignment poll."""
        return BundleRef(self.name, self.version, self.checksum, self.size, self.archive_url)

    def to_wire(self) -> dict[str, Any]:
        return self.ref().to_wire()


archive_url = archive_path  # one route template for both ends (edge_protocol.routes)


# ------------------------------------------------------------------------------------ secrets
def new_secret() -> str:
    return "ecs_" + secrets.token_urlsafe(32)


# ------------------------------------------------------------------------------------ store
class Store:
    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self.archives_dir = self.data_dir / "archives"
        self.incoming_dir = self.data_dir / "incoming"
        for directory in (self.data_dir, self.archives_dir, self.incoming_dir):
            directory.mkdir(parents=True, exist_ok=True)
        # Leftovers of uploads interrupted by a crash are never referenced: start clean.
        for leftover in self.incoming_dir.iterdir():
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        self._lock = threading.RLock()  # the writer connection and its transactions
        self._archives_lock = threading.Lock()
        # Reads use one connection per thread and no lock: in WAL mode they see the last commit and never
        # wait for a writer, so the event loop never blocks behind a thread-pool transaction.
        self._readers = threading.local()
        self._reader_connections: list[sqlite3.Connection] = []
        self._db = sqlite3.connect(self.data_dir / "platform.db", check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        self._migrate(self._db)
        self._closed = False
        self._hasher = SecretHasher.for_data_dir(self.data_dir)
        # Checked against when the deployment does not exist, so a wrong id costs as long as a wrong secret.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def ensure_open(self) -> None:
        """Reopen after `close` (an app whose lifespan runs again, as test harnesses do)."""
        with self._lock:
            if not self._closed:
                return
            self._db = sqlite3.connect(self.data_dir / "platform.db", check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA busy_timeout=5000")
            self._readers = threading.local()  # each thread's reader was closed with the store
            self._closed = False

    def close(self) -> None:
        with self._lock:
            self._db.close()
            for reader in self._reader_connections:
                reader.close()
            self._reader_connections.clear()
            self._closed = True

    def _migrate(self, db: sqlite3.Connection) -> None:
        """Bring a data dir made by an older platform up to date (`CREATE TABLE IF NOT EXISTS` adds no columns)."""
        columns = {row["name"] for row in db.execute("PRAGMA table_info(deployments)")}
        if "replicas" not in columns:  # before SPEC §14: every deployment had exactly one connector
            db.execute("ALTER TABLE deployments ADD COLUMN replicas INTEGER NOT NULL DEFAULT 1")
        columns = {row["name"] for row in db.execute("PRAGMA table_info(bundle_versions)")}
        if "sandbox" not in columns:  # before SPEC §10: no bundle asked for anything
            db.execute("ALTER TABLE bundle_versions ADD COLUMN sandbox TEXT NOT NULL DEFAULT '{}'")
        if "archive_sha256" not in columns:  # before archives were keyed by their own hash (issue 12)
            db.execute("ALTER TABLE bundle_versions ADD COLUMN archive_sha256 TEXT")

    # -- plumbing
    def _query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        reader: sqlite3.Connection | None = getattr(self._readers, "connection", None)
        if reader is None:
            reader = sqlite3.connect(self.data_dir / "platform.db", check_same_thread=False, isolation_level=None)
            reader.row_factory = sqlite3.Row
            reader.execute("PRAGMA busy_timeout=5000")
            self._readers.connection = reader
            with self._lock:
                self._reader_connections.append(reader)
        return reader.execute(sql, args).fetchall()

    def _transaction(self) -> _Transaction:
        return _Transaction(self)

    # -- orgs, users, invitations (SPEC.md §9)
    def sign_in(self, email: str, org_id: str | None = None) -> tuple[str, str, dict[str, str]]:
        """Create the user if new and pick the org of the token; returns `(sub, org_id, orgs)`.

        An `org_id` that does not exist yet is created with this user as its owner; an existing one
        admits only its members and the emails it invited (the invite becomes a membership here),
        else `NotAMember`. Without `org_id` the user's first org is used, or a new personal one whose
        id nobody can guess in advance (a predictable id could be taken first by someone else).
        """
        email = email.strip().lower()
        sub = email
        with self._transaction() as db:
            if not db.execute("SELECT 1 FROM users WHERE sub = ?", (sub,)).fetchone():
                db.execute("INSERT INTO users (sub, email, created_at) VALUES (?, ?, ?)", (sub, email, utc_now()))
            if not org_id:
                row = db.execute(
                    "SELECT org_id FROM memberships WHERE sub = ? ORDER BY rowid LIMIT 1", (sub,)
                ).fetchone()
                org_id = row["org_id"] if row else personal_org_id(email)
            if not db.execute("SELECT 1 FROM orgs WHERE id = ?", (org_id,)).fetchone():
                db.execute("INSERT INTO orgs (id, created_at) VALUES (?, ?)", (org_id, utc_now()))
                db.execute("INSERT INTO memberships (sub, org_id, role) VALUES (?, ?, 'owner')", (sub, org_id))
            elif not db.execute("SELECT 1 FROM memberships WHERE sub = ? AND org_id = ?", (sub, org_id)).fetchone():
                invite = db.execute(
                    "SELECT role FROM invites WHERE org_id = ? AND email = ?", (org_id, email)
                ).fetchone()
                if invite is None:
                    raise NotAMember(org_id)
                db.execute(
                    "INSERT INTO memberships (sub, org_id, role) VALUES (?, ?, ?)", (sub, org_id, invite["role"])
                )
                db.execute("DELETE FROM invites WHERE org_id = ? AND email = ?", (org_id, email))
            rows = db.execute("SELECT org_id, role FROM memberships WHERE sub = ? ORDER BY rowid", (sub,)).fetchall()
        orgs = {org_id: next(r["role"] for r in rows if r["org_id"] == org_id)}
        orgs.update({r["org_id"]: r["role"] for r in rows if r["org_id"] != org_id})
        return sub, org_id, orgs

    def role_of(self, sub: str, org_id: str) -> str | None:
        rows = self._query("SELECT role FROM memberships WHERE sub = ? AND org_id = ?", (sub, org_id))
        return rows[0]["role"] if rows else None

    def invite(self, org_id: str, email: str, role: str, invited_by: str) -> None:
        """Remember that `email` may join `org_id` with `role` (again: the newest invite wins)."""
        email = email.strip().lower()
        with self._transaction() as db:
            db.execute(
                "INSERT INTO invites (org_id, email, role, invited_by, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (org_id, email) DO UPDATE SET role = excluded.role, invited_by = excluded.invited_by,"
                " created_at = excluded.created_at",
                (org_id, email, role, invited_by, utc_now()),
            )

    def list_members(self, org_id: str) -> list[tuple[str, str]]:
        """`(email, role)` of every member, in the order they joined."""
        rows = self._query(
            "SELECT u.email, m.role FROM memberships m JOIN users u ON u.sub = m.sub WHERE m.org_id = ? ORDER BY m.rowid",
            (org_id,),
        )
        return [(r["email"], r["role"]) for r in rows]

    def list_invites(self, org_id: str) -> list[tuple[str, str]]:
        rows = self._query("SELECT email, role FROM invites WHERE org_id = ? ORDER BY created_at, email", (org_id,))
        return [(r["email"], r["role"]) for r in rows]

    # -- deployments
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

    # -- bundles
    def archive_file(self, record: BundleVersion) -> Path:
        """Where the archive of `record` is stored.

        Archives are named by the SHA-256 of the archive file itself, which covers `manifest.json`
        too: two orgs uploading the same files with different manifests get two files, and no upload
        ever answers with, or points at, another org's archive. Identical bytes are stored once.
        """
        if record.archive_sha256 is not None:
            return self.archives_dir / f"sha256-{record.archive_sha256}.tar.gz"
        return self._legacy_archive_path(record.checksum, record.name)

    def _legacy_archive_path(self, checksum: str, bundle: str) -> Path:
        """Versions stored before archive hashes: `<content checksum>[-<name hash>].tar.gz`."""
        hex_digest = checksum.removeprefix("sha256:")
        if not re.fullmatch(r"[0-9a-f]{64}", hex_digest):
            raise ValueError(f"not a bundle checksum: {checksum!r}")
        renamed = self.archives_dir / f"{hex_digest}-{hashlib.sha256(bundle.encode('utf-8')).hexdigest()[:12]}.tar.gz"
        return renamed if renamed.exists() else self.archives_dir / f"{hex_digest}.tar.gz"

    def new_incoming_path(self) -> Path:
        """A fresh path for an upload being received (same filesystem as the archives, for an atomic move)."""
        return self.incoming_dir / f"upload-{secrets.token_hex(8)}"

    def add_bundle_version(self, org_id: str, manifest: Manifest, archive_file: Path) -> tuple[BundleVersion, bool]:
        """Record a verified archive; returns `(version, created)`.

        The same checksum under the same name in the same org gives back the existing version
        (created False). The file is moved into place unless identical bytes are already stored.
        """
        tools = [_tool_dict(t) for t in manifest.tools]
        archive_sha256 = _file_sha256(archive_file)  # outside any lock: up to 50 MB of hashing
        # Placed under its own lock, never inside a database transaction, so readers and other
        # writers are not held up by file I/O.
        target = self.archives_dir / f"sha256-{archive_sha256}.tar.gz"
        with self._archives_lock:
            if not target.exists():
                os.replace(archive_file, target)
        # The stored file is what connectors download: its size is the one to announce.
        size = target.stat().st_size
        with self._transaction() as db:
            row = db.execute(
                "SELECT * FROM bundle_versions WHERE org_id = ? AND name = ? AND checksum = ?",
                (org_id, manifest.bundle, manifest.checksum),
            ).fetchone()
            if row:
                return _bundle_version(row), False
            (latest,) = db.execute(
                "SELECT COALESCE(MAX(version), 0) FROM bundle_versions WHERE org_id = ? AND name = ?",
                (org_id, manifest.bundle),
            ).fetchone()
            sandbox = manifest.sandbox.to_wire()
            record = BundleVersion(
                org_id, manifest.bundle, latest + 1, manifest.checksum, size, tools, utc_now(), sandbox, archive_sha256
            )
            db.execute(
                "INSERT INTO bundle_versions (org_id, name, version, checksum, size, tools, created_at, sandbox,"
                " archive_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    org_id,
                    record.name,
                    record.version,
                    record.checksum,
                    size,
                    json.dumps(tools),
                    record.created_at,
                    json.dumps(sandbox),
                    archive_sha256,
                ),
            )
        return record, True

    def get_bundle_version(self, org_id: str, name: str, version: int | None = None) -> BundleVersion | None:
        """One version, or the newest when `version` is None."""
        if version is None:
            rows = self._query(
                "SELECT * FROM bundle_versions WHERE org_id = ? AND name = ? ORDER BY version DESC LIMIT 1",
                (org_id, name),
            )
        else:
            rows = self._query(
                "SELECT * FROM bundle_versions WHERE org_id = ? AND name = ? AND version = ?", (org_id, name, version)
            )
        return _bundle_version(rows[0]) if rows else None

    def list_bundle_versions(self, org_id: str, name: str | None = None) -> list[BundleVersion]:
        if name is None:
            rows = self._query("SELECT * FROM bundle_versions WHERE org_id = ? ORDER BY name, version", (org_id,))
        else:
            rows = self._query(
                "SELECT * FROM bundle_versions WHERE org_id = ? AND name = ? ORDER BY version", (org_id, name)
            )
        return [_bundle_version(r) for r in rows]

    # -- assignments
    def set_default(self, org_id: str, name: str, version: int | None) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO org_defaults (org_id, name, version) VALUES (?, ?, ?)"
                " ON CONFLICT (org_id) DO UPDATE SET name = excluded.name, version = excluded.version",
                (org_id, name, version),
            )

    def clear_default(self, org_id: str) -> bool:
        with self._transaction() as db:
            return bool(db.execute("DELETE FROM org_defaults WHERE org_id = ?", (org_id,)).rowcount)

    def get_default(self, org_id: str) -> Assignment | None:
        rows = self._query("SELECT name, version FROM org_defaults WHERE org_id = ?", (org_id,))
        return Assignment(rows[0]["name"], rows[0]["version"]) if rows else None

    def assign(self, org_id: str, deployment_id: str, name: str, version: int | None) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO assignments (deployment_id, org_id, name, version) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (deployment_id) DO UPDATE SET name = excluded.name, version = excluded.version",
                (deployment_id, org_id, name, version),
            )

    def unassign(self, org_id: str, deployment_id: str) -> bool:
        with self._transaction() as db:
            return bool(
                db.execute(
                    "DELETE FROM assignments WHERE deployment_id = ? AND org_id = ?", (deployment_id, org_id)
                ).rowcount
            )

    def get_assignment(self, org_id: str, deployment_id: str) -> Assignment | None:
        rows = self._query(
            "SELECT name, version FROM assignments WHERE deployment_id = ? AND org_id = ?", (deployment_id, org_id)
        )
        return Assignment(rows[0]["name"], rows[0]["version"], deployment_id) if rows else None

    def list_assignments(self, org_id: str) -> list[Assignment]:
        rows = self._query(
            "SELECT deployment_id, name, version FROM assignments WHERE org_id = ? ORDER BY deployment_id", (org_id,)
        )
        return [Assignment(r["name"], r["version"], r["deployment_id"]) for r in rows]

    def resolve_bundle(self, org_id: str, deployment_id: str | None) -> ResolvedBundle | None:
        """What a connector of `deployment_id` should run: its assignment, else the org default.

        An assignment without a version tracks the newest version of its bundle; one naming a bundle
        with no versions (or a missing version) resolves to None.
        """
        chosen = self.get_assignment(org_id, deployment_id) if deployment_id else None
        chosen = chosen or self.get_default(org_id)
        if chosen is None:
            return None
        found = self.get_bundle_version(org_id, chosen.name, chosen.version)
        if found is None:
            return None
        return ResolvedBundle(found.name, found.version, found.checksum, found.size, found.tools)


class _Transaction:
    """`with store._transaction() as db:` — BEGIN IMMEDIATE … COMMIT under the store lock."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def __enter__(self) -> sqlite3.Connection:
        self._store._lock.acquire()
        try:
            self._store._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            # `__exit__` does not run when `__enter__` fails: without this the lock stays taken for good.
            self._store._lock.release()
            raise
        return self._store._db

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._store._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._store._lock.release()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def personal_org_id(email: str) -> str:
    """`org-<name>-<random>`: readable, and not derivable from the email (see `Store.sign_in`)."""
    local = _ID_SAFE.sub("-", email.split("@", 1)[0].lower()).strip("-")[:24] or "user"
    return f"org-{local}-{secrets.token_hex(5)}"


def _deployment(row: sqlite3.Row) -> Deployment:
    return Deployment(
        row["id"], row["org_id"], row["name"], row["created_at"], row["secret_rotated_at"], row["replicas"]
    )


def _bundle_version(row: sqlite3.Row) -> BundleVersion:
    return BundleVersion(
        row["org_id"],
        row["name"],
        row["version"],
        row["checksum"],
        row["size"],
        json.loads(row["tools"]),
        row["created_at"],
        json.loads(row["sandbox"] or "{}"),
        row["archive_sha256"],
    )


def _tool_dict(tool: Any) -> dict[str, Any]:
    return {
        "name": tool.name,
        "description": tool.description,
        "inputSchema": tool.inputSchema,
        "outputSchema": tool.outputSchema,
        "timeoutMs": tool.timeoutMs,
        "entry": tool.entry,
    }
