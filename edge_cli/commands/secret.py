"""`edge-connector secret put|list|delete|bulk`: tool secrets on the platform (SPEC.md §11).

A value never comes from the command line (every local user can read argv in `ps`): `put` reads it
from stdin when stdin is not a terminal, else prompts without echo; `bulk` reads a dotenv file.
Nothing here prints a value.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from ..console import err, out, print_json
from ..errors import CliError, UsageError
from ..options import JSON_OPTION, PLATFORM_OPTION, PROJECT_OPTION

if TYPE_CHECKING:
    from ..client import PlatformClient

secret_app = typer.Typer(
    help="Set, list and delete the secrets your tools read as ctx.secrets.NAME.", no_args_is_help=True
)
DEPLOYMENT_OPTION = typer.Option(
    None,
    "--deployment",
    metavar="ID",
    help="A deployment's own secret (overrides the org's); default: the organization's.",
)


def read_value(name: str) -> str:
    """The value from stdin (piped: whole input, one trailing newline dropped) or a no-echo prompt."""
    if not sys.stdin.isatty():
        value = sys.stdin.read()
        if value.endswith("\n"):
            value = value[:-2] if value.endswith("\r\n") else value[:-1]
    else:
        import getpass

        try:
            value = getpass.getpass(f"Value for {name} (not shown): ")
        except (EOFError, KeyboardInterrupt):
            raise CliError(
                "No value entered", f"Run edge-connector secret put {name} again, or pipe the value in"
            ) from None
    if value == "":
        raise UsageError(
            f"The value for {name} is empty",
            f'Pipe it in (printf %s "$VALUE" | edge-connector secret put {name}) or type it at the prompt',
        )
    return value


def _scope_label(deployment: str | None) -> str:
    return f"deployment {deployment}" if deployment else "the organization"


def _scope(deployment: str | None) -> dict[str, str]:
    """The `deploymentId` a request names for a deployment's own secrets (none: the organization's)."""
    return {"deploymentId": deployment} if deployment else {}


def _client(platform: str | None, project: Path | None) -> PlatformClient:
    """The platform of `--platform`, else the project's running dev session, else the saved login."""
    from ..client import connect

    return connect(platform, project or Path.cwd(), dev=True)


def _set(client: PlatformClient, name: str, value: str, deployment: str | None) -> Any:
    return client.put(f"/api/secrets/{name}", {"value": value, **_scope(deployment)})


@secret_app.command("put")
def put(
    name: str = typer.Argument(..., help="The secret's name, e.g. WEATHER_API_KEY."),
    deployment: str = DEPLOYMENT_OPTION,
    platform: str = PLATFORM_OPTION,
    project: Path = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Set a secret. The value is read from stdin (or a prompt without echo), never from the command line."""
    value = read_value(name)
    with _client(platform, project) as client:
        data = _set(client, name, value, deployment)
    if as_json:
        print_json(data)
    else:
        out.print(f"Secret {name} set for {_scope_label(deployment)}; connected tools see it on their next call.")


@secret_app.command("list")
def list_(
    deployment: str = DEPLOYMENT_OPTION,
    platform: str = PLATFORM_OPTION,
    project: Path = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Names, scopes and update times (never values)."""
    from rich.table import Table

    with _client(platform, project) as client:
        data = client.get("/api/secrets", **_scope(deployment))
    if as_json:
        print_json(data)
        return
    if not data["secrets"]:
        out.print(
            f"No secrets for {_scope_label(deployment)}. Set one with: edge-connector secret put NAME"
            + (f" --deployment {deployment}" if deployment else "")
        )
        return
    table = Table(title=f"Secrets of {_scope_label(deployment)}", title_justify="left")
    for column in ("Name", "Scope", "Updated"):
        table.add_column(column)
    for item in data["secrets"]:
        table.add_row(item["name"], item["scope"], item["updatedAt"])
    out.print(table)


@secret_app.command("delete")
def delete(
    name: str = typer.Argument(..., help="The secret's name."),
    deployment: str = DEPLOYMENT_OPTION,
    platform: str = PLATFORM_OPTION,
    project: Path = PROJECT_OPTION,
) -> None:
    """Delete a secret; tools that require it fail with missing_secret until it is set again."""
    path = f"/api/secrets/{name}" + (f"?deploymentId={deployment}" if deployment else "")
    with _client(platform, project) as client:
        client.delete(path)
    out.print(f"Secret {name} deleted from {_scope_label(deployment)}.")


@secret_app.command("bulk")
def bulk(
    file: Path = typer.Argument(..., help="A dotenv file: NAME=value lines (quotes, export and # comments allowed)."),
    deployment: str = DEPLOYMENT_OPTION,
    platform: str = PLATFORM_OPTION,
    project: Path = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Set every secret of a dotenv file (e.g. a .dev.vars) in one go."""
    from ..dotenv_file import DotenvError, read_secrets_file

    if not file.is_file():
        raise CliError(f"No file at {file}", "Pass a dotenv file of NAME=value lines")
    try:
        values = read_secrets_file(file)
    except DotenvError as exc:
        raise CliError(str(exc), "Fix the file and run the command again") from None
    if not values:
        raise CliError(f"{file} holds no NAME=value line", "Add one secret per line, e.g. WEATHER_API_KEY=...")
    done = []
    with _client(platform, project) as client:
        for name, value in values.items():
            done.append(_set(client, name, value, deployment))
    if as_json:
        print_json({"secrets": done})
    else:
        out.print(f"Set {len(done)} secrets for {_scope_label(deployment)}: {', '.join(values)}.")
        err.print("Connected tools see them on their next call.", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(secret_app, name="secret")
