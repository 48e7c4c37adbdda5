"""`edge-connector dev [DIR]`: the one-command local loop (see `edge_cli.devloop`)."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import typer

from ..console import err


def register(app: typer.Typer) -> None:
    @app.command("dev")
    def dev(
        dir: Path = typer.Argument(Path("."), help="The tool project (default: the current directory)."),
        platform: str | None = typer.Option(
            None, "--platform", help="Use this platform (in dev mode) instead of starting an embedded one."
        ),
        health_port: int | None = typer.Option(None, "--health-port", help="The runtime's health port (default: a free one)."),
    ) -> None:
        """Build, upload and run your tools locally; every save is rebuilt and hot-swapped. Ctrl-C stops all."""
        from ..devloop import DevSession

        def echo(line: str) -> None:
            err.print(line, markup=False, highlight=False)

        session = DevSession(dir, platform_url=platform, echo=echo, health_port=health_port)
        asyncio.run(_run(session))


async def _run(session) -> None:
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, session.stop)
        except (NotImplementedError, RuntimeError):
            pass
    await session.run()
