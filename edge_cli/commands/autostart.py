"""`edge-connector autostart enable|disable|status [--dir DIR]`: run the connector at login."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from ..console import err, out, print_json
from ..errors import CliError

if TYPE_CHECKING:  # imported where used, so that `--help` stays light
    from edge_runtime import autostart as os_autostart

autostart_app = typer.Typer(
    name="autostart",
    help="Start the connector runtime at login (systemd user unit on Linux, launchd agent on macOS).",
    no_args_is_help=True,
)

DIR_OPTION = typer.Option(Path("."), "--dir", help="The installation directory the runtime runs in.", show_default=".")


def _cli_error(exc: os_autostart.AutostartError) -> CliError:
    return CliError(exc.message, exc.hint)


def _print_commands(result: os_autostart.AutostartResult) -> None:
    for command in result.ran:
        err.print(f"Ran: {command}", markup=False)
    if result.to_run:
        err.print(
            "Run this to apply it now:" if len(result.to_run) == 1 else "Run these to apply it now:", markup=False
        )
        for command in result.to_run:
            err.print(f"  {command}", markup=False)


@autostart_app.command("enable")
def enable(directory: Path = DIR_OPTION) -> None:
    """Write the autostart entry for DIR and its private environment file, then activate it."""
    from edge_runtime import autostart as os_autostart

    try:
        result = os_autostart.enable(directory)
    except os_autostart.AutostartError as exc:
        raise _cli_error(exc) from None
    out.print(f"Autostart enabled: {result.entry.path}", markup=False)
    out.print(f"Environment file (mode 0600, holds settings and secrets): {result.env_file}", markup=False)
    _print_commands(result)


@autostart_app.command("disable")
def disable(
    directory: Path = typer.Option(None, "--dir", help="Only disable if the entry starts this installation directory."),
) -> None:
    """Deactivate and remove the autostart entry (the environment file stays in the install dir)."""
    from edge_runtime import autostart as os_autostart

    try:
        current = os_autostart.status()
        if (
            directory is not None
            and current.install_dir
            and Path(current.install_dir) != directory.expanduser().resolve()
        ):
            raise CliError(
                f"Autostart is enabled for {current.install_dir}, not {directory.expanduser().resolve()}",
                f"run `edge-connector autostart disable --dir {current.install_dir}` to remove it",
            )
        result = os_autostart.disable()
    except os_autostart.AutostartError as exc:
        raise _cli_error(exc) from None
    if result is None:
        out.print("Autostart was not enabled; nothing to remove.", markup=False)
        return
    out.print(f"Autostart disabled: removed {result.entry.path}", markup=False)
    _print_commands(result)


@autostart_app.command("status")
def status(
    directory: Path = DIR_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the status as JSON."),
) -> None:
    """Show whether autostart is enabled, for which directory, and whether its env file is private."""
    from edge_runtime import autostart as os_autostart

    try:
        state = os_autostart.status(directory.expanduser().resolve())
    except os_autostart.AutostartError as exc:
        raise _cli_error(exc) from None
    data = {
        "os": state.os_name,
        "enabled": state.enabled,
        "entry": str(state.path),
        "installDir": state.install_dir,
        "envFile": str(state.env_file) if state.env_file else None,
        "envFilePrivate": state.env_file_private,
        "disabledByEnvironment": state.disabled_by_env,
    }
    if as_json:
        print_json(data)
        return
    out.print(f"Autostart  {'enabled' if state.enabled else 'not enabled'} ({state.os_name})", markup=False)
    out.print(f"Entry      {state.path}", markup=False)
    if state.install_dir:
        out.print(f"Starts     edge-connector start --dir {state.install_dir}", markup=False)
    if state.env_file:
        out.print(f"Env file   {state.env_file}", markup=False)
    if state.env_file_private is False:
        out.print(
            f"Warning: {state.env_file} is readable by other users; run: chmod 600 {state.env_file}", markup=False
        )
    if state.disabled_by_env:
        out.print("EC_DISABLE_AUTOSTART=1 is set: enable/disable are refused here.", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(autostart_app, name="autostart")
