"""`edge-connector status`: read `/statusz` of a running runtime and show it readably."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from ..console import paint, plain_line, print_json, wants_colour
from ..errors import CliError
from ..options import PROJECT_OPTION


def register(app: typer.Typer) -> None:
    @app.command("status")
    def status(
        port: int | None = typer.Option(None, "--port", help="Health port of the runtime [HEALTH_PORT]."),
        host: str | None = typer.Option(None, "--host", help="Health host of the runtime [HEALTH_HOST]."),
        dir: Path | None = typer.Option(
            None, "--dir", help="Installation directory (finds the port of the runtime running there)."
        ),
        project: Path | None = PROJECT_OPTION,
        as_json: bool = typer.Option(False, "--json", help="Print the raw /statusz JSON."),
    ) -> None:
        """Show the state of the runtime: connection, bundle, sync, tools and workers."""
        url = _dev_status_url(port, host, dir, project) or _status_url(port, host, dir)
        data = _fetch(url)
        if as_json:
            print_json(data)
            return
        _print(data)


def _dev_status_url(port: int | None, host: str | None, directory: Path | None, project: Path | None) -> str | None:
    """The runtime of the project's running `edge-connector dev`, when nothing else was named."""
    import os

    from .. import dev_state

    if port is not None or host is not None or directory is not None or os.environ.get("HEALTH_PORT"):
        return None
    found = dev_state.find_project(project or Path.cwd())
    state = dev_state.read(found) if found else None
    return state.health_url.rstrip("/") + "/statusz" if state else None


def _status_url(port: int | None, host: str | None, directory: Path | None) -> str:
    """--port/--host > the health URL the runtime of the directory recorded > HEALTH_* settings > defaults."""
    from edge_runtime.lock import read_lock_file
    from edge_runtime.settings import SettingsError, load_settings

    if port is None:
        recorded = read_lock_file(Path(directory) if directory else Path.cwd()).get("healthUrl")
        if isinstance(recorded, str) and recorded.startswith("http") and host is None:
            return recorded.rstrip("/") + "/statusz"
    try:
        settings = load_settings(directory)
    except SettingsError as exc:
        raise CliError(str(exc)) from None
    port = port if port is not None else settings.health_port
    host = host or settings.health_host
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/statusz"


def _fetch(url: str) -> dict[str, Any]:
    """GET `url`: one loopback request to the runtime's health server needs no HTTP client library."""
    import json

    from ..plain_http import BadResponse, get

    try:
        status, body = get(url, timeout=5)
    except (OSError, BadResponse, ValueError):
        raise CliError(
            f"No edge runtime answered at {url}",
            "Start one with `edge-connector start`, or pass --port (or --dir) of the running runtime",
        ) from None
    if status != 200:
        raise CliError(f"{url} answered HTTP {status}", "Is that port really the runtime's HEALTH_PORT?")
    try:
        data = json.loads(body)
    except ValueError:
        raise CliError(f"{url} did not answer JSON", "Is that port really the runtime's HEALTH_PORT?") from None
    if not isinstance(data, dict):
        raise CliError(f"{url} did not answer a status object", "Is that port really the runtime's HEALTH_PORT?")
    return data


def _print(data: dict[str, Any]) -> None:
    for line in status_lines(data, colour=wants_colour(sys.stdout)):
        plain_line(line)


def status_lines(data: dict[str, Any], colour: bool = False) -> list[str]:
    """The readable status: one line per fact, coloured (ANSI) when `colour`."""

    def styled(text: str, style: str) -> str:
        return paint(text, style, colour)

    lines = []
    state = data.get("state", "?")
    state_style = "green" if data.get("ready") else "yellow"
    lines.append(
        f"{styled('Edge runtime', 'bold')} {data.get('version', '')} (pid {data.get('pid')}) in {data.get('installDir')}"
    )
    lines.append(f"  connection   {styled(str(state), state_style)} to {data.get('platformUrl')}")
    if data.get("connectorId"):
        lines.append(
            f"  connector    {data['connectorId']} (org {data.get('orgId')}, since {data.get('connectedSince')})"
        )
    lines.append(f"  deployment   {data.get('deploymentId') or 'none (organization default)'}")
    if data.get("lastError"):
        lines.append(f"  last error   {styled(str(data['lastError']), 'red')} ({data.get('lastErrorAt')})")
    if data.get("nextRetryAt"):
        lines.append(f"  next retry   {data['nextRetryAt']} (attempt {data.get('reconnectAttempts')})")
    bundle = data.get("bundle")
    lines.append(f"  bundle       {_bundle(bundle) if bundle else 'none installed'}")
    sync = data.get("sync") or {}
    if sync:
        lines.append(f"  last sync    {sync.get('lastSyncAt') or 'never'}; next {sync.get('nextSyncAt') or '-'}")
        if sync.get("lastSyncError"):
            lines.append("  sync error   " + styled(f"Bundle sync error: {sync['lastSyncError']}", "red"))
        if sync.get("noBundleAssigned"):
            lines.append(f"  {styled('No bundle assigned', 'yellow')}: run `edge-connector bundle set-default NAME`")
    executor = data.get("executor") or {}
    lines.append(
        f"  workers      {executor.get('workers', 0)} running, {executor.get('inFlight', 0)} calls in flight"
        f" (max {executor.get('maxConcurrency', '?')})"
    )
    tools = data.get("tools") or []
    if tools:
        lines.append("  tools")
        width = max(len(t.get("name", "")) for t in tools)
        for tool in tools:
            avg = tool.get("avgDurationMs")
            lines.append(
                f"    {tool.get('name', ''):<{width}}  {tool.get('calls', 0)} calls, {tool.get('errors', 0)} errors"
                + (f", avg {avg} ms" if avg is not None else "")
            )
    return lines


def _bundle(bundle: dict[str, Any]) -> str:
    version = bundle.get("version")
    return f"{bundle.get('name')} v{version if version is not None else '(local)'} {bundle.get('checksum', '')}"
