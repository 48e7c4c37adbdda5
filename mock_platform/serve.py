"""Run the mock platform: `mock-platform` / `python -m mock_platform.serve` / `edge-connector platform serve`.

The socket is bound here, before uvicorn starts, so `--port 0` works and the line
`mock-platform listening on http://HOST:PORT` (which tests and `edge-connector dev` read) names the
real port and is printed only once connections are already being queued.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import uvicorn

from edge_protocol.limits import MAX_FRAME_BYTES

from .config import PlatformConfig, is_loopback
from .heartbeat import Heartbeat

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_DATA = Path(".mock-platform")


def build_config(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    data_dir: Path | str = DEFAULT_DATA,
    jwt_secret: str | None = None,
    dev: bool | None = None,
    heartbeat_seconds: float | None = None,
    deployment_token_ttl: int | None = None,
    handshake_rate: float | None = None,
) -> PlatformConfig:
    """Dev mode (dev tokens, fault injection) defaults to on for loopback and off for any other host."""
    if jwt_secret is not None and len(jwt_secret.encode("utf-8")) < 32:
        raise ValueError("--jwt-secret must be at least 32 bytes long (e.g. `openssl rand -hex 32`)")
    config = PlatformConfig(
        data_dir=Path(data_dir),
        host=host,
        port=port,
        jwt_secret=jwt_secret,
        dev=is_loopback(host) if dev is None else dev,
    )
    if heartbeat_seconds is not None:
        if heartbeat_seconds <= 0:
            raise ValueError(f"--heartbeat must be a positive number of seconds, got {heartbeat_seconds}")
        config.heartbeat_seconds = heartbeat_seconds
    if deployment_token_ttl is not None:
        if deployment_token_ttl <= 0:
            raise ValueError(f"--deployment-token-ttl must be a positive number of seconds, got {deployment_token_ttl}")
        config.deployment_token_ttl_seconds = deployment_token_ttl
    if handshake_rate is not None:
        if not handshake_rate > 0:
            raise ValueError(
                f"--handshake-rate must be a positive number of handshakes per second, got {handshake_rate}"
            )
        config.handshake_rate = handshake_rate
    return config


def run_loop(coro) -> None:
    """Run on uvloop when it is installed (a third less CPU per request on the call path), else asyncio."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
        return
    uvloop.run(coro)


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port (port 0 = any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP;
    # without it every response written in two parts waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def url_of(sock: socket.socket, host: str, tls: bool = False) -> str:
    port = sock.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{shown}:{port}"


def _server(
    config: PlatformConfig,
    log_level: str = "warning",
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
) -> uvicorn.Server:
    from .app import create_app
    from .host_guard import HostGuard
    from .hub import ToolRpcFastPath
    from .mcp import McpFastPath
    from .oauth_token import TokenFastPath
    from .tool_calls import CallFastPath
    from .ws_protocol import protocol_class

    app = create_app(config)
    uv_config = uvicorn.Config(
        # In front of the whole app, tool calls also skip FastAPI's outer layers (body-limit and
        # telemetry wrappers, ServerErrorMiddleware): ~20 % less platform CPU per call (docs/performance.md).
        # `/mcp` requests likewise go straight to the MCP endpoint, and connectors' WebSockets to the hub
        # (held for hours, each layer it skips is memory per connector).
        HostGuard(ToolRpcFastPath(McpFastPath(TokenFastPath(CallFastPath(app), app), app), app), config),
        # ASGI 3 said outright: the outer wrappers are plain callables that return the inner app's
        # awaitable (no frame kept per held WebSocket), which uvicorn's guess would take for ASGI 2.
        interface="asgi3",
        log_level=log_level,
        lifespan="on",
        access_log=False,
        # ASGI gives the hub no way to send pings, so the WebSocket protocol keeps the heartbeat
        # (SPEC.md §7): one timer for all links pings each every interval and closes a link that left
        # its last ping unanswered (`heartbeat.py`, `ws_protocol.py`: lean per-link state). Frames
        # up to twice the protocol limit reach the hub, which refuses oversized ones with close 4000.
        ws=protocol_class(Heartbeat(config.heartbeat_seconds)),
        ws_ping_interval=None,
        ws_ping_timeout=None,
        ws_max_size=2 * MAX_FRAME_BYTES,
        timeout_graceful_shutdown=5,
        # TLS (https:// and wss://), e.g. to try a connector against a certificate it must trust.
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
    )
    return uvicorn.Server(uv_config)


def serve(
    config: PlatformConfig,
    log_level: str = "warning",
    ssl_certfile: Path | None = None,
    ssl_keyfile: Path | None = None,
) -> None:
    """Bind, announce, serve until SIGINT/SIGTERM (foreground)."""
    sock = bind_socket(config.host, config.port)
    server = _server(config, log_level, ssl_certfile, ssl_keyfile)
    print(f"mock-platform listening on {url_of(sock, config.host, tls=ssl_certfile is not None)}", flush=True)
    if config.dev:
        print("dev mode: /api/dev/tokens and /api/sim/* are enabled", flush=True)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal to the handler that was
    # there before it: make that one a clean exit (status 0) instead of death by signal (143).
    signal.signal(signal.SIGTERM, _exit_cleanly)
    run_loop(server.serve(sockets=[sock]))


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def run_in_thread(
    config: PlatformConfig, log_level: str = "warning", timeout: float = 20.0
) -> tuple[str, Callable[[], None]]:
    """Serve in a background thread (for `edge-connector dev`); returns `(url, stop)` once it accepts requests."""
    sock = bind_socket(config.host, config.port)
    server = _server(config, log_level)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            run_loop(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported to the caller below
            errors.append(exc)

    thread = threading.Thread(target=run, name="mock-platform", daemon=True)
    thread.start()
    started = threading.Event()

    def wait_started() -> None:
        while not (server.started or errors or not thread.is_alive()):
            started.wait(0.01)

    waiter = threading.Thread(target=wait_started, daemon=True)
    waiter.start()
    waiter.join(timeout)
    if not server.started:
        server.should_exit = True
        thread.join(5)
        raise RuntimeError(f"the embedded mock platform did not start: {errors[0] if errors else 'timed out'}")

    def stop() -> None:
        server.should_exit = True
        thread.join(10)
        sock.close()

    return url_of(sock, config.host), stop


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="mock-platform", description="Run the edge-connector mock platform.")
    parser.add_argument("--host", default=DEFAULT_HOST, help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 8000; 0 = any free port)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="state directory (default ./.mock-platform)")
    parser.add_argument(
        "--jwt-secret", default=None, help="HS256 secret (default: generated once into the data directory)"
    )
    parser.add_argument(
        "--dev",
        dest="dev",
        action="store_true",
        default=None,
        help="enable dev tokens and fault injection (default: on for loopback hosts only)",
    )
    parser.add_argument("--no-dev", dest="dev", action="store_false")
    parser.add_argument(
        "--heartbeat",
        type=float,
        default=None,
        metavar="SECONDS",
        help="WebSocket ping interval announced to connectors (default 30)",
    )
    parser.add_argument(
        "--deployment-token-ttl",
        type=int,
        default=None,
        metavar="SECONDS",
        help="lifetime of deployment tokens from /oauth/token (default 3600); connectors refresh "
        "them on the open link before they expire",
    )
    parser.add_argument(
        "--handshake-rate",
        type=float,
        default=None,
        metavar="PER_SECOND",
        help="connector handshakes admitted per second; faster arrivals are refused 503 with "
        "a Retry-After spread over the backlog (default 2000)",
    )
    parser.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug"])
    parser.add_argument("--ssl-certfile", type=Path, default=None, help="serve https/wss with this PEM certificate")
    parser.add_argument("--ssl-keyfile", type=Path, default=None, help="the certificate's PEM private key")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        config = build_config(
            args.host,
            args.port,
            args.data,
            args.jwt_secret,
            args.dev,
            args.heartbeat,
            args.deployment_token_ttl,
            handshake_rate=args.handshake_rate,
        )
        if (args.ssl_certfile is None) != (args.ssl_keyfile is None):
            raise ValueError("--ssl-certfile and --ssl-keyfile go together: give both, or neither")
        for option, path in (("--ssl-certfile", args.ssl_certfile), ("--ssl-keyfile", args.ssl_keyfile)):
            if path is not None and not path.is_file():
                raise ValueError(f"{option} {path} does not exist")
    except ValueError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(2)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        serve(config, args.log_level, args.ssl_certfile, args.ssl_keyfile)
    except OSError as exc:
        print(
            f"Error: cannot listen on {args.host}:{args.port} ({exc.strerror or exc}). "
            "Choose another --port, or stop what is using it.",
            file=sys.stderr,
        )
        sys.exit(1)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
