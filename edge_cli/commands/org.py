"""`edge-connector org invite|members`: who belongs to your organization (SPEC.md §9)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..console import out, print_json
from ..options import JSON_OPTION, PLATFORM_OPTION

org_app = typer.Typer(help="Invite people to your organization and list its members.", no_args_is_help=True)


@org_app.command("invite")
def invite(
    email: str = typer.Argument(..., help="Email address of the person to invite."),
    role: str = typer.Option("member", "--role", help="member or owner (owners may invite others)."),
    platform: str = PLATFORM_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Invite EMAIL: they become a member when they next sign in to this organization (owners only)."""
    from ..client import connect

    if role not in ("member", "owner"):
        raise typer.BadParameter("use member or owner", param_hint="--role")
    with connect(platform, Path.cwd()) as client:
        data = client.post("/api/org/invites", {"email": email, "role": role})
    if as_json:
        print_json(data)
        return
    out.print(f"Invited {data['email']} to organization {data['orgId']} as {data['role']}.")
    out.print(f"They join by signing in to it: edge-connector auth --browser (organization {data['orgId']}).")


@org_app.command("members")
def members(platform: str = PLATFORM_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Members of your organization and their roles, and pending invitations."""
    from rich.table import Table

    from ..client import connect

    with connect(platform, Path.cwd()) as client:
        data = client.get("/api/org/members")
    if as_json:
        print_json(data)
        return
    table = Table(title="Members", title_justify="left")
    table.add_column("Email")
    table.add_column("Role")
    for member in data["members"]:
        table.add_row(member["email"], member["role"])
    for pending in data.get("invites", []):
        table.add_row(pending["email"], f"{pending['role']} (invited)")
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(org_app, name="org")
