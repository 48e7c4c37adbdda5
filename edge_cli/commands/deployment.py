"""`edge-connector deployment create|list|update|rotate-secret|delete`: connector identities on the platform."""

from __future__ import annotations

from pathlib import Path

import typer

from ..console import err, out, print_json
from ..options import JSON_OPTION, PLATFORM_OPTION

deployment_app = typer.Typer(
    help="Create and manage deployments (DEPLOYMENT_ID / DEPLOYMENT_SECRET).", no_args_is_help=True
)

#: SPEC.md §14: how many connectors may hold one deployment at once.
MIN_REPLICAS, MAX_REPLICAS = 1, 100
_REPLICAS_HELP = "How many connectors may hold this deployment at once (1..100); more are refused 409."


def _print_secret(data: dict, as_json: bool, verb: str) -> None:
    if as_json:
        print_json(data)
        return
    out.print(f"{verb} deployment {data['name']!r}.")
    out.print(f"DEPLOYMENT_ID={data['deploymentId']}")
    out.print(f"DEPLOYMENT_SECRET={data['secret']}")
    err.print("The secret is shown only now: store it where the connector runs (it is kept hashed on the platform).")


@deployment_app.command("create")
def create(
    name: str = typer.Argument(..., help="A name for the deployment (e.g. the host it runs on)."),
    replicas: int = typer.Option(1, "--replicas", min=MIN_REPLICAS, max=MAX_REPLICAS, help=_REPLICAS_HELP),
    platform: str = PLATFORM_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a deployment and print its DEPLOYMENT_ID and DEPLOYMENT_SECRET (the secret only once)."""
    from ..client import connect

    with connect(platform, Path.cwd()) as client:
        data = client.post("/api/deployments", {"name": name, "replicas": replicas})
    _print_secret(data, as_json, "Created")
    if not as_json and data.get("replicas", 1) > 1:
        err.print(f"Up to {data['replicas']} connectors may run with these credentials at once.")


@deployment_app.command("update")
def update(
    deployment_id: str = typer.Argument(..., metavar="ID", help="The DEPLOYMENT_ID."),
    replicas: int = typer.Option(..., "--replicas", min=MIN_REPLICAS, max=MAX_REPLICAS, help=_REPLICAS_HELP),
    platform: str = PLATFORM_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a deployment's settings: how many connectors (replicas) may hold it at once."""
    from ..client import connect

    with connect(platform, Path.cwd()) as client:
        data = client.patch(f"/api/deployments/{deployment_id}", {"replicas": replicas})
    if as_json:
        print_json(data)
    else:
        out.print(
            f"Deployment {data['deploymentId']} ({data['name']}) now takes up to {data['replicas']} "
            f"connector{'s' if data['replicas'] != 1 else ''} at once."
        )


@deployment_app.command("list")
def list_(platform: str = PLATFORM_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Deployments of your organization, with the bundle each one runs."""
    from rich.table import Table

    from ..client import connect

    with connect(platform, Path.cwd()) as client:
        data = client.get("/api/deployments")
    if as_json:
        print_json(data)
        return
    if not data["deployments"]:
        out.print("No deployments yet. Create one with: edge-connector deployment create NAME")
        return
    table = Table(title="Deployments", title_justify="left")
    table.add_column("ID", no_wrap=True, min_width=max(len(d["deploymentId"]) for d in data["deployments"]))
    for column in ("Name", "Replicas", "Assignment", "Runs", "Created"):
        table.add_column(column)
    for d in data["deployments"]:
        assignment = d.get("assignment")
        assigned = f"{assignment['name']}@{assignment['version'] or 'latest'}" if assignment else "(org default)"
        resolved = d.get("resolvedBundle")
        runs = f"{resolved['name']}@{resolved['version']}" if resolved else "(nothing assigned)"
        table.add_row(d["deploymentId"], d["name"], str(d.get("replicas", 1)), assigned, runs, d["createdAt"])
    out.print(table)


@deployment_app.command("rotate-secret")
def rotate_secret(
    deployment_id: str = typer.Argument(..., metavar="ID", help="The DEPLOYMENT_ID."),
    platform: str = PLATFORM_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Issue a new DEPLOYMENT_SECRET; the old one stops working at once."""
    from ..client import connect

    with connect(platform, Path.cwd()) as client:
        _print_secret(client.post(f"/api/deployments/{deployment_id}/rotate-secret"), as_json, "Rotated the secret of")


@deployment_app.command("delete")
def delete(
    deployment_id: str = typer.Argument(..., metavar="ID", help="The DEPLOYMENT_ID."),
    platform: str = PLATFORM_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Delete a deployment: its credentials and tokens stop working and its connector is dropped."""
    from ..client import connect

    with connect(platform, Path.cwd()) as client:
        client.delete(f"/api/deployments/{deployment_id}")
    if as_json:
        print_json({"deleted": deployment_id})
    else:
        out.print(f"Deleted deployment {deployment_id}.")


def register(app: typer.Typer) -> None:
    app.add_typer(deployment_app, name="deployment")
