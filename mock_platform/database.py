"""The platform's SQLite file (WAL) at `<data>/platform.db`: schema, migrations, connections, transactions.

One writer connection guarded by a lock: FastAPI runs sync routes in a threadpool, and SQLite calls
here are short, so serialising writes is simpler and safer than a pool. Reads use one connection per
thread and no lock. The records of each aggregate (`org_records`, `deployment_records`,
`bundle_records`, `assignment_records`, `secrets_store`) build on this.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

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


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Database:
    """The connections to `<data>/platform.db`; the aggregates' records subclass it."""

    def __init__(self, data_dir: Path | str) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()  # the writer connection and its transactions
        # Reads use one connection per thread and no lock: in WAL mode they see the last commit and never
        # wait for a writer, so the event loop never blocks behind a thread-pool transaction.
        self._readers = threading.local()
        self._reader_connections: list[sqlite3.Connection] = []
        self._db = self._connect()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._migrate(self._db)
        self._closed = False

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.data_dir / "platform.db", check_same_thread=False, isolation_level=None)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA busy_timeout=5000")
        return db

    def ensure_open(self) -> None:
        """Reopen after `close` (an app whose lifespan runs again, as test harnesses do)."""
        with self._lock:
            if not self._closed:
                return
            self._db = self._connect()
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

    def _query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        reader: sqlite3.Connection | None = getattr(self._readers, "connection", None)
        if reader is None:
            reader = self._connect()
            self._readers.connection = reader
            with self._lock:
                self._reader_connections.append(reader)
        return reader.execute(sql, args).fetchall()

    def _transaction(self) -> _Transaction:
        return _Transaction(self)


class _Transaction:
    """`with store._transaction() as db:` — BEGIN IMMEDIATE … COMMIT under the store lock."""

    def __init__(self, store: Database) -> None:
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
