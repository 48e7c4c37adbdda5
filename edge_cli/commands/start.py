"""`edge-connector start`: run the connector runtime in an installation directory, in the foreground."""

from __future__ import annotations

import signal
from pathlib import Path

import typer

from ..errors import CliError


def register(app: typer.Typer) -> None:
    @app.command("start")
    def start(
        dir: Path = typer.Option(None, "--dir", help="Installation directory (default: the current directory)."),
        tool_rpc_url: str | None = typer.Option(None, "--tool-rpc-url", help="Platform WebSocket URL [TOOL_RPC_URL]."),
        auth_token_path: Path | None = typer.Option(None, "--auth-token-path", help="Token file [AUTH_TOKEN_PATH]."),
        deployment_id: str | None = typer.Option(None, "--deployment-id", help="Deployment to run as [DEPLOYMENT_ID]."),
        health_host: str | None = typer.Option(None, "--health-host", help="Health server address [HEALTH_HOST]."),
        health_port: int | None = typer.Option(
            None, "--health-port", help="Health server port, 0 = any free [HEALTH_PORT]."
        ),
        sync_interval: float | None = typer.Option(
            None, "--sync-interval", help="Seconds between bundle checks [EC_SYNC_INTERVAL]."
        ),
        backoff_initial: float | None = typer.Option(
            None, "--backoff-initial", help="First reconnect delay, s [EC_BACKOFF_INITIAL]."
        ),
        backoff_max: float | None = typer.Option(
            None, "--backoff-max", help="Longest reconnect delay, s [EC_BACKOFF_MAX]."
        ),
        heartbeat: float | None = typer.Option(None, "--heartbeat", help="Seconds between pings [EC_HEARTBEAT]."),
        tool_timeout: float | None = typer.Option(
            None, "--tool-timeout", help="Longest tool call, s [EC_TOOL_TIMEOUT]."
        ),
        workers: int | None = typer.Option(None, "--workers", help="Node.js worker processes [EC_WORKERS]."),
        max_concurrency: int | None = typer.Option(
            None, "--max-concurrency", help="Calls at once [EC_MAX_CONCURRENCY]."
        ),
        log_format: str | None = typer.Option(None, "--log-format", help="text or json [EC_LOG_FORMAT]."),
    ) -> None:
        """Run the connector runtime (foreground; Ctrl-C or SIGTERM drains calls and exits 0)."""
        from edge_runtime.lock import AlreadyRunning
        from edge_runtime.logs import configure
        from edge_runtime.runtime import Runtime, StartupError
        from edge_runtime.settings import SettingsError, load_settings

        flags = {
            "tool_rpc_url": tool_rpc_url,
            "auth_token_path": auth_token_path,
            "deployment_id": deployment_id,
            "health_host": health_host,
            "health_port": health_port,
            "sync_interval_seconds": sync_interval,
            "backoff_initial_seconds": backoff_initial,
            "backoff_max_seconds": backoff_max,
            "heartbeat_seconds": heartbeat,
            "tool_timeout_seconds": tool_timeout,
            "workers": workers,
            "max_concurrency": max_concurrency,
            "log_format": log_format,
        }
        if auth_token_path is not None:
            flags["auth_token_path"] = str(auth_token_path)
        try:
            settings = load_settings(dir, flags)
        except SettingsError as exc:
            raise CliError(str(exc)) from None
        configure(settings.log_format)
        runtime = Runtime(settings)
        try:
            _run_loop(_run(runtime))
        except AlreadyRunning as exc:
            raise CliError(
                str(exc),
                "Stop that runtime first, or use a separate installation directory (--dir) with its own deployment",
            ) from None
        except StartupError as exc:
            raise CliError(str(exc)) from None


def _run_loop(coro) -> None:
    """uvloop when installed (cheaper socket I/O on the call path), else the stdlib loop."""
    try:
        import uvloop
    except ImportError:
        import asyncio  # here, not at the top: `--help` need not load it

        asyncio.run(coro)
        return
    uvloop.run(coro)


async def _run(runtime) -> None:
    import asyncio  # here, not at the top: `--help` need not load it

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, runtime.request_stop)
    await runtime.run()
