"""Which bundle runs where: the org default and per-deployment assignments, resolved to one version."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from edge_protocol.messages import BundleRef

from .bundle_records import BundleRecords, archive_url


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
        names = tuple(str(tool.get("name")) for tool in self.tools)
        return BundleRef(self.name, self.version, self.checksum, self.size, self.archive_url, names)

    def to_wire(self) -> dict[str, Any]:
        return self.ref().to_wire()


class AssignmentRecords(BundleRecords):
    """The org default and per-deployment assignments, and what they resolve to."""

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
