"""Everything the platform remembers: SQLite (WAL) at `<data>/platform.db`, archives named by their SHA-256.

`Store` is the one object the routes hold; each aggregate's records live in their own module and
`Store` combines them: orgs, users and invitations (`org_records`), deployments with their secrets as
keyed hashes (`deployment_records`), bundle versions and archives (`bundle_records`), the org default
and per-deployment assignments (`assignment_records`), all on one `database` (schema, connections,
transactions). Nothing is cached in memory, so a restart loses nothing.
"""

from __future__ import annotations

from .assignment_records import Assignment, AssignmentRecords, ResolvedBundle
from .bundle_records import BundleVersion, archive_url
from .database import utc_now
from .deployment_records import Deployment, DeploymentRecords, new_secret
from .org_records import NotAMember, OrgRecords, personal_org_id

__all__ = [
    "Store",
    "Assignment",
    "BundleVersion",
    "Deployment",
    "NotAMember",
    "ResolvedBundle",
    "archive_url",
    "new_secret",
    "personal_org_id",
    "utc_now",
]


class Store(OrgRecords, DeploymentRecords, AssignmentRecords):
    """The platform's records: one SQLite file, one object."""
