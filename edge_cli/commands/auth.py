"""`edge-connector auth` (not yet wired)."""

import typer


def register(app: typer.Typer) -> None:
    pass
