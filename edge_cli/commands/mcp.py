"""`edge-connector mcp [DIR]`: serve tools to any MCP client over stdio (see docs/mcp.md).

With DIR: the project's tools, built and run on this machine (`edge_cli.mcp_local`). Without DIR:
the organization's tools through the platform (`edge_cli.mcp_remote`). The MCP SDK is imported
only when this command runs, so other commands start without it.
"""

from __future__ import annotations

import signal
from pathlib import Path

import typer

from ..options import PLATFORM_OPTION, PROJECT_OPTION


def register(app: typer.Typer) -> None:
    @app.command("mcp")
    def mcp(
        dir: Path | None = typer.Argument(
            None, help="A tool project: serve its tools locally (no platform). Without it: the organization's tools."
        ),
        platform: str | None = PLATFORM_OPTION,
        project: Path | None = PROJECT_OPTION,
        workers: int = typer.Option(1, "--workers", min=1, max=32, help="Node.js workers for local tools."),
        watch: bool = typer.Option(
            True, "--watch/--no-watch", help="Rebuild on save and tell the client (local mode)."
        ),
        log_level: str = typer.Option(
            "INFO", "--log-level", help="Log level of the stderr log (DEBUG, INFO, WARNING, ERROR)."
        ),
    ) -> None:
        """Serve tools to an MCP client (Claude Desktop, Cursor, VS Code…) over stdio; logs go to stderr."""
        from edge_runtime.logs import configure

        configure("text", log_level, quiet_libraries=("mcp", "httpx", "httpcore", "websockets", "watchfiles"))
        if dir is not None:
            from ..mcp_local import LocalMcpServer

            _run(LocalMcpServer(dir, workers=workers, watch=watch))
        else:
            from ..mcp_remote import RemoteMcpServer

            _run(RemoteMcpServer.connect(platform, project or Path.cwd()))


def _run(server) -> None:
    async def main() -> None:
        import asyncio  # here, not at the top: `--help` need not load it

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, server.stop)
            except (NotImplementedError, RuntimeError):
                pass
        await server.run()

    import asyncio  # here, not at the top: `--help` need not load it

    asyncio.run(main())
    import logging

    logging.getLogger("edge_cli.mcp").info("MCP server stopped")
