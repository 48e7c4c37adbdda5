"""Orgs, users, memberships and invitations (SPEC.md §9)."""

from __future__ import annotations

import re
import secrets

from .database import Database, utc_now

_ID_SAFE = re.compile(r"[^a-z0-9-]+")


class NotAMember(Exception):
    """Signing in to an existing organization without being a member or invited (SPEC.md §9)."""

    def __init__(self, org_id: str) -> None:
        super().__init__(org_id)
        self.org_id = org_id


class OrgRecords(Database):
    """Orgs, their members and invitations; a member signs in to one org at a time."""

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


def personal_org_id(email: str) -> str:
    """`org-<name>-<random>`: readable, and not derivable from the email (see `Store.sign_in`)."""
    local = _ID_SAFE.sub("-", email.split("@", 1)[0].lower()).strip("-")[:24] or "user"
    return f"org-{local}-{secrets.token_hex(5)}"
