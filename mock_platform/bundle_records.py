"""Bundle versions and their archives, the archives named by their SHA-256 under `<data>/archives`."""

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
from pathlib import Path
from typing import Any

from edge_protocol.manifest import Manifest
from edge_protocol.routes import archive_path

from .database import Database, utc_now

archive_url = archive_path  # one route template for both ends (edge_protocol.routes)


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


class BundleRecords(Database):
    """Bundle versions (numbered per name and org) and the archive files behind them."""

    def __init__(self, data_dir: Path | str) -> None:
        super().__init__(data_dir)
        self.archives_dir = self.data_dir / "archives"
        self.incoming_dir = self.data_dir / "incoming"
        for directory in (self.archives_dir, self.incoming_dir):
            directory.mkdir(parents=True, exist_ok=True)
        # Leftovers of uploads interrupted by a crash are never referenced: start clean.
        for leftover in self.incoming_dir.iterdir():
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
        self._archives_lock = threading.Lock()

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


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


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
