"""`edge-connector status` (not yet wired)."""

import typer


def register(app: typer.Typer) -> None:
    pass
