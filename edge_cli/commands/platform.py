"""`edge-connector platform serve`: run the mock platform (same as the `mock-platform` command)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import CliError, UsageError

platform_app = typer.Typer(help="Run the included mock platform.", no_args_is_help=True)


@platform_app.command("serve")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port (0 = any free port)."),
    data: Path = typer.Option(Path(".mock-platform"), "--data", help="State directory (SQLite + archives)."),
    jwt_secret: str = typer.Option(
        None,
        "--jwt-secret",
        envvar="EC_JWT_SECRET",
        help="HS256 secret (default: generated once into the data directory).",
        show_envvar=True,
    ),
    dev: bool = typer.Option(
        None, "--dev/--no-dev", help="Dev tokens and fault injection (default: on for loopback hosts only)."
    ),
    heartbeat: float = typer.Option(None, "--heartbeat", help="WebSocket ping interval in seconds (default 30)."),
    deployment_token_ttl: int = typer.Option(
        None,
        "--deployment-token-ttl",
        metavar="SECONDS",
        help="Lifetime of deployment tokens (default 3600); connectors refresh them on the open link.",
    ),
    handshake_rate: float = typer.Option(
        None,
        "--handshake-rate",
        help="Connector handshakes admitted per second; faster ones get 503 + Retry-After (default 2000).",
    ),
    log_level: str = typer.Option("warning", "--log-level", help="critical, error, warning, info or debug."),
    ssl_certfile: Path = typer.Option(None, "--ssl-certfile", help="Serve https/wss with this PEM certificate."),
    ssl_keyfile: Path = typer.Option(None, "--ssl-keyfile", help="The certificate's PEM private key."),
) -> None:
    """Run the mock platform in the foreground; prints `mock-platform listening on http://HOST:PORT`."""
    from mock_platform import serve as server

    try:
        config = server.build_config(
            host, port, data, jwt_secret, dev, heartbeat, deployment_token_ttl, handshake_rate=handshake_rate
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise UsageError("--ssl-certfile and --ssl-keyfile go together: give both, or neither")
    for option, path in (("--ssl-certfile", ssl_certfile), ("--ssl-keyfile", ssl_keyfile)):
        if path is not None and not path.is_file():
            raise UsageError(f"{option} {path} does not exist")
    try:
        server.serve(config, log_level, ssl_certfile, ssl_keyfile)
    except OSError as exc:
        raise CliError(
            f"Cannot listen on {host}:{port} ({exc.strerror or exc})", "Choose another --port, or stop what is using it"
        ) from None


def register(app: typer.Typer) -> None:
    app.add_typer(platform_app, name="platform")
