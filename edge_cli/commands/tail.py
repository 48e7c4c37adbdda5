"""`edge-connector tail`: watch calls and tool logs live, from any deployment (SPEC.md §13).

Readable lines on a terminal; one JSON object per line with `--json` or when stdout is not a
terminal (then stdout carries only the events, and status lines go to stderr). When the stream
drops it says so on stderr and reconnects on the runtime's backoff (5 s doubling to 60 s, ±10 %,
`EC_BACKOFF_INITIAL`/`EC_BACKOFF_MAX`), and says when it is back: never a silent stall. Ctrl-C
exits 0. `websockets` is imported only when the command runs, so the CLI starts fast.
"""

from __future__ import annotations

import json
import os
import sys
import time
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import typer

from ..console import err, out
from ..errors import UsageError
from ..options import JSON_OPTION, PLATFORM_OPTION, PROJECT_OPTION

if TYPE_CHECKING:  # imported where used, so that `--help` stays light
    from edge_protocol.tail import TailFilter

    from ..tail_view import Line

#: How often held log lines are re-checked (a call running longer than the hold shows them anyway).
_TICK_SECONDS = 0.25
#: Refusals that retrying cannot fix: stop with the explanation instead.
_FATAL_STATUSES = {400, 401, 403, 404}


class Status(str, Enum):
    ok = "ok"
    error = "error"


def tail(
    deployment: str = typer.Option(None, "--deployment", help="Only this deployment's calls and logs."),
    tool: str = typer.Option(None, "--tool", help="Only this tool's calls and logs."),
    status: Status = typer.Option(None, "--status", help="Only calls that ended ok / with an error (and their logs)."),
    platform: str = PLATFORM_OPTION,
    project: Path = PROJECT_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Stream calls and tool logs live; one JSON object per line with --json or when piped. Ctrl-C stops."""
    import asyncio

    from edge_protocol.tail import TAIL_PATH, TailFilter

    from ..client import connect

    tail_filter = TailFilter(deployment or None, tool or None, status.value if status else None)
    with connect(
        platform, project or Path.cwd(), dev=True
    ) as client:  # the CLI's URL and token rules, as every command
        url, token = client.url, client.token
    stream_url = _ws_url(url) + TAIL_PATH + (f"?{urlencode(tail_filter.to_query())}" if tail_filter.to_query() else "")
    follower = _Follower(stream_url, token or "", as_json or not sys.stdout.isatty(), _describe(tail_filter))
    try:
        asyncio.run(follower.run())
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a tail ends: exit 0


def _ws_url(http_url: str) -> str:
    return (
        "wss://" + http_url[len("https://") :]
        if http_url.startswith("https://")
        else "ws://" + http_url[len("http://") :]
    )


def _describe(tail_filter: TailFilter) -> str:
    parts = [f"{key}={value}" for key, value in tail_filter.to_query().items()]
    return "calls and logs" + (f" ({', '.join(parts)})" if parts else "")


def _backoff():
    from edge_protocol.backoff import Backoff

    def seconds(name: str, default: float) -> float:
        raw = os.environ.get(name)
        try:
            value = float(raw) if raw else default
        except ValueError:
            raise UsageError(
                f"{name}={raw!r} is not a number of seconds", f"Unset it or use e.g. {name}={default:g}"
            ) from None
        if value <= 0:
            raise UsageError(f"{name}={raw!r} must be positive", f"Unset it or use e.g. {name}={default:g}")
        return value

    return Backoff(initial=seconds("EC_BACKOFF_INITIAL", 5.0), maximum=seconds("EC_BACKOFF_MAX", 60.0))


class _Follower:
    """Keeps one stream open, reconnecting with backoff, and prints what arrives."""

    def __init__(self, url: str, token: str, as_json: bool, what: str) -> None:
        from ..tail_view import TailView

        self.url, self.token, self.as_json, self.what = url, token, as_json, what
        self.view = TailView()
        self.backoff = _backoff()
        self.shown_url = url.split("?", 1)[0]

    async def run(self) -> None:
        import asyncio

        dropped_before = False
        while True:
            connected_at, reason = await self._stream_once(dropped_before)
            if connected_at is not None:
                self.backoff.connection_lost(time.monotonic() - connected_at)
                dropped_before = True
            delay = self.backoff.next_delay()
            if connected_at is not None:
                _status(f"Tail stream dropped ({reason}); reconnecting in {delay:.1f}s")
            else:
                _status(f"Cannot reach the tail stream at {self.shown_url} ({reason}); retrying in {delay:.1f}s")
            await asyncio.sleep(delay)

    async def _stream_once(self, dropped_before: bool) -> tuple[float | None, str]:
        """One connection, served until it ends: (when it was established or None, why it ended)."""
        import asyncio

        from websockets.asyncio.client import connect as ws_connect
        from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

        from edge_runtime.tls import tls_context

        try:
            ws = await ws_connect(
                self.url,
                additional_headers={"Authorization": f"Bearer {self.token}"},
                open_timeout=10,
                ping_interval=10,
                ping_timeout=10,
                max_size=2**22,
                ssl=tls_context() if self.url.startswith("wss://") else None,  # the runtime's trust, as for HTTP
            )
        except InvalidStatus as exc:
            return None, self._refused(exc.response.status_code, exc.response.body)
        except (TimeoutError, OSError, InvalidHandshake) as exc:
            return None, _connect_error(exc)
        connected_at = time.monotonic()
        if dropped_before:
            _status(f"Tail stream back: following {self.what} on {self.shown_url} (events of the gap are not replayed)")
        else:
            _status(f"Following {self.what} on {self.shown_url} (Ctrl-C to stop)")
        try:
            while True:
                try:
                    frame = await asyncio.wait_for(ws.recv(), _TICK_SECONDS)
                except TimeoutError:
                    self._show(self.view.tick(time.monotonic()))
                    continue
                self._frame(frame)
        except ConnectionClosed as closed:
            return connected_at, _close_reason(closed)
        finally:
            await ws.close()

    def _refused(self, status: int, body: bytes | bytearray | None) -> str:
        from ..client import refusal_to_cli_error

        try:
            parsed: Any = json.loads(body or b"null")
        except ValueError:
            parsed = None
        if status in _FATAL_STATUSES:
            raise refusal_to_cli_error(status, parsed, self.shown_url)
        error = parsed.get("error") if isinstance(parsed, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        return f"HTTP {status}{': ' + message if message else ''}"

    def _frame(self, frame: str | bytes) -> None:
        from edge_protocol.tail import TailEventError, event_from_wire

        try:
            data = json.loads(frame)
            event = event_from_wire(data)
        except (ValueError, TailEventError) as exc:
            _status(f"Ignoring a frame that is not a tail event ({exc})")
            return
        if self.as_json:
            sys.stdout.write(json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n")
            sys.stdout.flush()
        else:
            self._show(self.view.event(event, time.monotonic()))

    @staticmethod
    def _show(lines: list[Line]) -> None:
        for line in lines:
            out.print(line.text, style=line.style, markup=False, highlight=False)


def _status(message: str) -> None:
    err.print(message, markup=False, highlight=False)


def _connect_error(exc: BaseException) -> str:
    import asyncio

    if isinstance(exc, ConnectionRefusedError):
        return "connection refused: is the platform running?"
    if isinstance(exc, asyncio.TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def _close_reason(closed: Any) -> str:
    from edge_protocol.failures import is_platform_restart

    frame = closed.rcvd
    if frame is None:
        return "connection lost without a close frame"
    if is_platform_restart(frame.code):
        return f"platform restarting, close {frame.code}"
    return f"closed by the platform, code {frame.code}{': ' + frame.reason if frame.reason else ''}"


def register(app: typer.Typer) -> None:
    app.command("tail")(tail)
