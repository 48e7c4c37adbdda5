"""`edge-connector sim disconnect|reject|latency|pushes`: drive the mock platform's fault injection (dev mode)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

import typer

from edge_protocol.close_codes import CLOSE_PLATFORM_RESTART

from ..console import out, print_json
from ..options import JSON_OPTION, PLATFORM_OPTION, PROJECT_OPTION


class Switch(str, Enum):
    on = "on"
    off = "off"


sim_app = typer.Typer(
    help="Fault injection on the mock platform (dev mode, your organization only).", no_args_is_help=True
)


def _post(
    platform: str | None, path: str, body: dict, as_json: bool, summary: str, project: Path | None = None
) -> dict:
    from ..client import connect

    with connect(platform, project or Path.cwd(), dev=True) as client:
        result = client.post(f"/api/sim/{path}", body)
    if as_json:
        print_json(result)
    else:
        out.print(summary.format(**(result or {})))
    return result


@sim_app.command("disconnect")
def disconnect(
    deployment: str = typer.Option(
        None, "--deployment", help="Only this deployment's connector (default: all of your org)."
    ),
    code: int = typer.Option(
        CLOSE_PLATFORM_RESTART,
        "--code",
        help="WebSocket close code (1012 platform restart, 4001 token expired, 4009 replaced…).",
    ),
    tails: bool = typer.Option(
        False,
        "--tails",
        help="Close your organization's live-tail streams instead (edge-connector tail, dashboard Live).",
    ),
    platform: str = PLATFORM_OPTION,
    project: Path = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Close connector connections (or, with --tails, live-tail streams) now."""
    body = {"code": code, **({"deploymentId": deployment} if deployment else {}), **({"tails": True} if tails else {})}
    what = "tail stream(s)" if tails else "connection(s)"
    _post(
        platform,
        "disconnect",
        body,
        as_json,
        "Closed {disconnected} " + what + " with code " + str(code) + ".",
        project,
    )


@sim_app.command("reject")
def reject(
    count: int = typer.Argument(..., min=0, metavar="N", help="How many handshakes to refuse (0 stops)."),
    platform: str = PLATFORM_OPTION,
    project: Path = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Refuse the next N connector handshakes with 503."""
    _post(
        platform,
        "reject",
        {"count": count},
        as_json,
        "The next {rejectNext} handshake(s) will be refused with 503.",
        project,
    )


@sim_app.command("latency")
def latency(
    ms: float = typer.Argument(..., min=0, metavar="MS", help="Delay in milliseconds (0 turns it off)."),
    platform: str = PLATFORM_OPTION,
    project: Path = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Delay every message to and from connectors."""
    _post(
        platform, "latency", {"ms": ms}, as_json, "Every connector message is now delayed by {latencyMs} ms.", project
    )


@sim_app.command("pushes")
def pushes(
    state: Switch = typer.Argument(..., help="off: hold back bundle.updated pushes."),
    platform: str = PLATFORM_OPTION,
    project: Path = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Turn bundle.updated pushes off (connectors then only learn of uploads by polling) or back on."""
    _post(
        platform, "pushes", {"enabled": state is Switch.on}, as_json, f"Bundle pushes are now {state.value}.", project
    )


def register(app: typer.Typer) -> None:
    app.add_typer(sim_app, name="sim")
