"""Options several commands share, in one place so that a command imports no other command's module."""

from __future__ import annotations

import typer

PLATFORM_OPTION = typer.Option(
    None, "--platform", help="Platform URL (default: EDGE_PLATFORM_URL, edge.json, saved, http://127.0.0.1:8000)."
)
JSON_OPTION = typer.Option(False, "--json", help="Print as JSON.")
PROJECT_OPTION = typer.Option(
    None,
    "--project",
    help="The tool project whose running `edge-connector dev` session to use "
    "when no --platform or token is given (default: the one the current directory is in).",
)
