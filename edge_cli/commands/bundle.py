"""`edge-connector bundle list|set-default|assign|unassign`: which deployment runs which bundle version."""

from __future__ import annotations

from pathlib import Path

import typer

from ..console import out, print_json
from ..errors import UsageError
from ..options import JSON_OPTION, PLATFORM_OPTION

bundle_app = typer.Typer(
    help="List bundles and choose the org default and per-deployment assignments.", no_args_is_help=True
)


def parse_ref(ref: str) -> tuple[str, int | None]:
    """`NAME` or `NAME@VERSION` (scoped names keep their leading `@`: `@team/tools@3`)."""
    head, sep, tail = ref.rpartition("@")
    if sep and head and head != "@":
        if not tail.isdigit() or int(tail) < 1:
            raise UsageError(
                f"Version in {ref!r} must be a positive integer", "Write NAME or NAME@VERSION, e.g. my-tools@3"
            )
        return head, int(tail)
    if not ref:
        raise UsageError("A bundle name is required", "Write NAME or NAME@VERSION")
    return ref, None


def _shown(name: str, version: int | None, resolved: int | None = None) -> str:
    if version is not None:
        return f"{name}@{version}"
    return f"{name}@latest" + (f" (now {resolved})" if resolved else "")


@bundle_app.command("list")
def list_(platform: str = PLATFORM_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Bundles and versions with sizes, the org default, and which deployments use which."""
    from rich.table import Table

    from bundler.size_report import human_bytes

    from ..client import connect

    with connect(platform, Path.cwd()) as client:
        data = client.get("/api/bundles")
    if as_json:
        print_json(data)
        return
    if not data["bundles"]:
        out.print("No bundles yet. Upload one with: edge-connector upload")
        return
    table = Table(title="Bundles", title_justify="left")
    for column in ("Bundle", "Version", "Size", "Tools", "Asks for", "Checksum", "Uploaded", "Used by"):
        table.add_column(column, justify="right" if column in ("Version", "Size") else "left")
    default = data.get("default")
    assignments = data.get("assignments", [])
    for bundle in data["bundles"]:
        for v in bundle["versions"]:
            users = []
            if default and default["name"] == bundle["name"] and default.get("resolvedVersion") == v["version"]:
                users.append("org default")
            users += [
                a.get("deploymentName") or a["deploymentId"]
                for a in assignments
                if a["name"] == bundle["name"] and a.get("resolvedVersion") == v["version"]
            ]
            table.add_row(
                bundle["name"],
                str(v["version"]),
                human_bytes(v["size"]),
                ", ".join(t["name"] for t in v["tools"]),
                _asks_for(v),
                v["checksum"][:19] + "…",
                v.get("createdAt") or "",
                ", ".join(users),
            )
    out.print(table)
    if default:
        out.print(f"Org default: {_shown(default['name'], default['version'], default.get('resolvedVersion'))}")
    else:
        out.print("Org default: (none) — set one with: edge-connector bundle set-default NAME")
    for a in assignments:
        out.print(
            f"Deployment {a['deploymentId']} ({a.get('deploymentName') or ''}): "
            f"{_shown(a['name'], a['version'], a.get('resolvedVersion'))}"
        )


def _asks_for(version: dict) -> str:
    from edge_protocol.sandbox import SandboxError, SandboxRequest

    try:
        return SandboxRequest.from_wire(version.get("sandbox")).summary()
    except SandboxError:
        return "(unreadable)"


@bundle_app.command("set-default")
def set_default(
    ref: str = typer.Argument(..., metavar="NAME[@VERSION]", help="Without a version it tracks the newest."),
    platform: str = PLATFORM_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Make a bundle the org default (what deployments without their own assignment run)."""
    from ..client import connect
    from ..secret_warnings import warn_missing, with_missing

    name, version = parse_ref(ref)
    with connect(platform, Path.cwd()) as client:
        data = client.put("/api/bundles/default", {"name": name, "version": version})
        missing = warn_missing(client, name, version, None)
    if as_json:
        print_json(with_missing(data, missing))
    else:
        d = data["default"]
        out.print(f"Org default is now {_shown(d['name'], d['version'], d.get('resolvedVersion'))}.")


@bundle_app.command("assign")
def assign(
    deployment_id: str = typer.Argument(..., metavar="DEPLOYMENT_ID"),
    ref: str = typer.Argument(..., metavar="NAME[@VERSION]", help="Without a version it tracks the newest."),
    platform: str = PLATFORM_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Assign a bundle to one deployment (overrides the org default)."""
    from ..client import connect
    from ..secret_warnings import warn_missing, with_missing

    name, version = parse_ref(ref)
    with connect(platform, Path.cwd()) as client:
        data = client.put(f"/api/deployments/{deployment_id}/bundle", {"name": name, "version": version})
        missing = warn_missing(client, name, version, deployment_id)
    if as_json:
        print_json(with_missing(data, missing))
    else:
        resolved = data.get("resolvedBundle") or {}
        out.print(f"Deployment {deployment_id} now runs {_shown(name, version, resolved.get('version'))}.")


@bundle_app.command("unassign")
def unassign(
    deployment_id: str = typer.Argument(..., metavar="DEPLOYMENT_ID"),
    platform: str = PLATFORM_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Remove a deployment's own assignment; it falls back to the org default."""
    from ..client import connect

    with connect(platform, Path.cwd()) as client:
        data = client.delete(f"/api/deployments/{deployment_id}/bundle")
    if as_json:
        print_json(data)
    else:
        resolved = data.get("resolvedBundle")
        now = f"{resolved['name']}@{resolved['version']}" if resolved else "nothing (no org default)"
        out.print(f"Deployment {deployment_id} follows the org default again: {now}.")


def register(app: typer.Typer) -> None:
    app.add_typer(bundle_app, name="bundle")
