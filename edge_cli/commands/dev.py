"""`edge-connector dev [DIR]`: the one-command local loop (see `edge_cli.devloop`)."""

from __future__ import annotations

import signal
from pathlib import Path

import typer

from ..console import err
from ..dev_state import DEFAULT_HEALTH_PORT, DEFAULT_PLATFORM_PORT


def register(app: typer.Typer) -> None:
    @app.command("dev")
    def dev(
        dir: Path = typer.Argument(Path("."), help="The tool project (default: the current directory)."),
        platform: str | None = typer.Option(
            None, "--platform", help="Use this platform (in dev mode) instead of starting an embedded one."
        ),
        port: int = typer.Option(
            DEFAULT_PLATFORM_PORT,
            "--port",
            min=1,
            max=65535,
            help="Port of the embedded platform; when taken, the next free one (said in one line).",
        ),
        health_port: int = typer.Option(
            DEFAULT_HEALTH_PORT,
            "--health-port",
            min=1,
            max=65535,
            help="The runtime's health port; when taken, the next free one (said in one line).",
        ),
    ) -> None:
        """Build, upload and run your tools locally; every save is rebuilt and hot-swapped. Ctrl-C stops all."""
        from ..devloop import DevSession

        def echo(line: str) -> None:
            err.print(line, markup=False, highlight=False)

        session = DevSession(dir, platform_url=platform, echo=echo, port=port, health_port=health_port)
        import asyncio  # here, not at the top: `--help` need not load it

        asyncio.run(_run(session))


async def _run(session) -> None:
    import asyncio  # here, not at the top: `--help` need not load it

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, session.stop)
        except (NotImplementedError, RuntimeError):
            pass
    await session.run()
