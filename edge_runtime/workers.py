"""One Node.js tool worker: the process running `host.mjs`, its call channel and its log pumps.

The call channel is a Unix socket pair handed to node as an inherited fd (EC_CHANNEL_FD), carrying
newline-delimited JSON; stdout/stderr carry only logs. So a tool printing anything, however much,
cannot corrupt a call, and a worker that exits is noticed once (its `exited` future) whatever
killed it. Policy (deadlines, dispatch, replacement) lives in `executor.py`; this module only moves
bytes and reports what happened.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from edge_protocol.limits import MAX_FRAME_BYTES

HOST_SCRIPT = Path(__file__).with_name("host.mjs")

# Longest log line kept (longer ones are cut), and how many lines a worker may log per second
# before lines are dropped and counted: a tool printing megabytes must neither grow memory nor
# stall the event loop, and the pipe is always drained so the tool itself never blocks for long.
MAX_LOG_LINE_BYTES = 8192
LOG_LINES_PER_SECOND = 200.0
LOG_BURST_LINES = 1000

_LOG_MARK = 0x1E
_FLUSHED_MARK = 0x1D  # "\x1d<id>": every console line of call <id> has been written (host.mjs)
#: How long an answer waits for its call's lines to be read before it goes out anyway.
ORDERED_ANSWER_WAIT_SECONDS = 0.05
_FIELD = b"\x1f"
_LEVELS = {
    b"info": logging.INFO,
    b"log": logging.INFO,
    b"debug": logging.DEBUG,
    b"warn": logging.WARNING,
    b"error": logging.ERROR,
}
# The level names a live tail shows (SPEC.md §13), by the runtime's log level.
_TAIL_LEVELS = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn", logging.ERROR: "error"}

#: Where a worker hands each console line for the live tail: (tool, call id or None, level, text).
ToolLogSink = Callable[[str, "str | None", str, str], None]


class WorkerLoadError(Exception):
    """A worker could not load a tool; `tool` names it and the message says why."""

    def __init__(self, tool: str | None, message: str) -> None:
        super().__init__(message)
        self.tool = tool


@dataclass(eq=False)
class InFlight:
    """A call sent to a worker and not yet settled by it (it may already be answered by a deadline)."""

    id: int
    tool: str
    future: asyncio.Future
    timer: asyncio.TimerHandle | None = None
    overdue: bool = False  # the deadline passed; waiting for the worker to settle it


class _LogBudget:
    """Token bucket over log lines; counts what it drops so the log says how much was lost."""

    def __init__(self, rate: float = LOG_LINES_PER_SECOND, burst: int = LOG_BURST_LINES) -> None:
        self.rate, self.burst = rate, float(burst)
        self.tokens = float(burst)
        self.stamp = time.monotonic()
        self.dropped = 0

    def take(self) -> bool:
        if self.tokens < 1.0:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens < 1.0:
                self.dropped += 1
                return False
        self.tokens -= 1.0
        return True


@dataclass(eq=False)
class Worker:
    """A running `host.mjs` process. Create with `await Worker.start(...)`, then `await load(...)`."""

    index: int
    process: asyncio.subprocess.Process
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    logger: logging.Logger
    on_message: Callable[[Worker, dict[str, Any]], None]
    on_log: ToolLogSink | None = None
    # Whether lines go to `on_log` now (someone tails): otherwise a line is not even decoded for it.
    forward_logs: Callable[[], bool] = field(default=lambda: False)
    in_flight: dict[int, InFlight] = field(default_factory=dict)
    exited: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    ready: bool = False
    exit_reason: str | None = None
    started_at: float = field(default_factory=time.monotonic)
    _load_reply: asyncio.Future | None = None
    _load_seq: int = 0  # of the load or prepare whose answer `_load_reply` waits for
    _tasks: list[asyncio.Task] = field(default_factory=list)
    _budget: _LogBudget = field(default_factory=_LogBudget)
    # Calls sent with `flush`: their answer is handed on only after their lines were (see `send_call`).
    _ordered: set[int] = field(default_factory=set)
    _lines_done: set[int] = field(default_factory=set)
    _held_answers: dict[int, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    async def start(
        cls,
        index: int,
        node: str,
        logger: logging.Logger,
        on_message: Callable[[Worker, dict[str, Any]], None],
        cwd: Path | None = None,
        on_log: ToolLogSink | None = None,
        forward_logs: Callable[[], bool] | None = None,
        node_flags: list[str] | None = None,
        env: dict[str, str] | None = None,
        host_args: list[str] | None = None,
    ) -> Worker:
        """`node_flags` and `env` are the sandbox's (edge_runtime/sandbox.py); without them node runs as
        the runtime does (only tests of the channel itself start workers that way). `host_args` go to
        host.mjs (`--reuse-chunks` for a worker that reloads in place)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # The channel is an inherited socket, not a path: the permission model needs no grant for it.
            env = {**(os.environ if env is None else env), "EC_CHANNEL_FD": str(theirs.fileno())}
            process = await asyncio.create_subprocess_exec(
                node,
                *(node_flags or ()),
                str(HOST_SCRIPT),
                *(host_args or ()),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(theirs.fileno(),),
                env=env,
                cwd=str(cwd) if cwd else None,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        try:
            # Results can be as big as a WebSocket frame; the reader must hold one whole line.
            reader, writer = await asyncio.open_unix_connection(sock=ours, limit=MAX_FRAME_BYTES + 4096)
        except BaseException:  # cancelled (a sibling worker failed to load) or broken: no orphan node
            ours.close()
            process.kill()
            await asyncio.shield(process.wait())
            raise
        worker = cls(index, process, reader, writer, logger, on_message, on_log)
        if forward_logs is not None:
            worker.forward_logs = forward_logs
        worker._tasks = [
            asyncio.create_task(worker._read_channel()),
            asyncio.create_task(worker._pump_logs(process.stdout, logging.INFO)),
            asyncio.create_task(worker._pump_logs(process.stderr, logging.WARNING)),
            asyncio.create_task(worker._wait_exit()),
        ]
        return worker

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return not self.exited.done()

    @property
    def load(self) -> int:
        return len(self.in_flight)

    @property
    def has_overdue(self) -> bool:
        return any(call.overdue for call in self.in_flight.values())

    # ------------------------------------------------------------------------------ commands
    async def load_tools(
        self,
        tools: list[tuple[str, Path]],
        timeout: float,
        *,
        scratch_dir: Path | None = None,
        secrets: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        """Ask the host to require every tool; raises WorkerLoadError naming the tool that failed.

        `scratch_dir` and `secrets` become `ctx.scratchDir` and `ctx.secrets` of every call; `cwd`, the
        bundle's directory, is entered first (a worker started before its bundle landed runs elsewhere)."""
        await self._loaded(
            {
                "t": "load",
                "tools": [{"name": name, "path": str(path)} for name, path in tools],
                "scratchDir": str(scratch_dir) if scratch_dir else None,
                "secrets": secrets or {},
                "cwd": str(cwd) if cwd else None,
            },
            timeout,
        )

    async def prepare_tools(self, tools: list[tuple[str, Path]], timeout: float) -> None:
        """Reload in place, step one: load a new version's tools beside the serving ones (raises like
        `load_tools`); `commit_tools` then serves them, `abort_tools` forgets them."""
        await self._loaded(
            {"t": "prepare", "tools": [{"name": name, "path": str(path)} for name, path in tools]}, timeout
        )

    def commit_tools(self, cwd: Path) -> None:
        """Serve the prepared tools for every call sent after this (the channel keeps the order)."""
        self.send({"t": "commit", "cwd": str(cwd)})

    def abort_tools(self) -> None:
        self.send({"t": "abort"})

    async def _loaded(self, message: dict[str, Any], timeout: float) -> None:
        self._load_seq += 1
        self._load_reply = asyncio.get_running_loop().create_future()
        self.send({**message, "seq": self._load_seq})
        done, _ = await asyncio.wait(
            {self._load_reply, self.exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if self._load_reply in done:
            reply = self._load_reply.result()
            if reply.get("t") == "ready":
                self.ready = True
                return
            raise WorkerLoadError(reply.get("tool"), str(reply.get("message", "unknown error")))
        if self.exited in done:
            raise WorkerLoadError(None, f"the Node.js worker exited while loading the tools ({self.exit_reason})")
        raise WorkerLoadError(None, f"loading the tools took longer than {timeout:g} s")

    def send(self, message: dict[str, Any]) -> None:
        self.send_frame(orjson.dumps(message))

    def send_call(self, call_id: int, frame: bytes, ordered: bool) -> None:
        """Send a call; with `ordered`, its answer is handed on only after every line it logged.

        The live tail wants a call's lines before its result. Lines and answers travel on different
        pipes, so the host marks the end of a call's lines on stdout before answering, and the
        answer waits here for that mark (at most `ORDERED_ANSWER_WAIT_SECONDS`).
        """
        if ordered:
            self._ordered.add(call_id)
        self.send_frame(frame)

    def send_frame(self, frame: bytes) -> None:
        """One already-encoded JSON message; a worker whose channel closed simply never answers."""
        if not self.writer.is_closing():
            self.writer.write(frame + b"\n")

    async def drain(self) -> None:
        """Wait while the channel's buffer is over its limit (a worker that stopped reading), so calls
        cannot pile up in memory; returns at once in the common case. A closed channel is not an error
        here: the call then fails through the worker's exit or its deadline."""
        if self.writer.is_closing():
            return
        try:
            await self.writer.drain()
        except ConnectionError:
            pass

    def kill(self, reason: str) -> None:
        """SIGKILL the process; `exited` resolves once it is reaped, with this reason."""
        if self.exit_reason is None:
            self.exit_reason = reason
        if self.process.returncode is None:
            try:
                self.process.kill()
            except ProcessLookupError:
                pass

    async def stop(self, timeout: float = 2.0) -> None:
        """Close the channel (the host exits on EOF); kill it if it lingers."""
        if self.exit_reason is None:
            self.exit_reason = "stopped"
        self.writer.close()
        try:
            await asyncio.wait_for(asyncio.shield(self.exited), timeout)
        except TimeoutError:
            self.kill("did not stop after its channel closed")
            await asyncio.shield(self.exited)

    # --------------------------------------------------------------------------------- pumps
    async def _read_channel(self) -> None:
        reader = self.reader
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                message = orjson.loads(line)
                kind = message.get("t")
                if kind in ("ready", "loadError"):
                    # Only the answer to the latest request: one abandoned (a reload in place that another
                    # worker failed) may still answer late.
                    reply = self._load_reply
                    if reply is not None and not reply.done() and message.get("seq") == self._load_seq:
                        reply.set_result(message)
                    continue
                self._answer(message)
        except (ValueError, asyncio.LimitOverrunError, ConnectionError) as exc:
            # A broken channel makes the worker useless: kill it so its calls fail and it is replaced.
            self.kill(f"its call channel broke ({exc.__class__.__name__})")

    def _answer(self, message: dict[str, Any]) -> None:
        call_id = message.get("id")
        if call_id not in self._ordered or call_id in self._lines_done:
            self._hand_on(message)
            return
        self._held_answers[call_id] = message
        asyncio.get_running_loop().call_later(ORDERED_ANSWER_WAIT_SECONDS, self._release, call_id)

    def _lines_flushed(self, call_id: int) -> None:
        held = self._held_answers.pop(call_id, None)
        if held is not None:
            self._hand_on(held)
        elif call_id in self._ordered:
            self._lines_done.add(call_id)

    def _release(self, call_id: Any) -> None:
        held = self._held_answers.pop(call_id, None)
        if held is not None:
            self._hand_on(held)

    def _hand_on(self, message: dict[str, Any]) -> None:
        call_id = message.get("id")
        self._ordered.discard(call_id)
        self._lines_done.discard(call_id)
        self.on_message(self, message)

    async def _pump_logs(self, stream: asyncio.StreamReader | None, default_level: int) -> None:
        if stream is None:
            return
        pending = b""
        while True:
            chunk = await stream.read(65536)
            if not chunk:
                if pending:
                    self._log_line(pending, default_level)
                return
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            if len(pending) > MAX_LOG_LINE_BYTES:  # an endless line: log its head, drop the rest
                self._log_line(pending, default_level)
                pending = b""
            for line in lines:
                self._log_line(line, default_level)

    def _log_line(self, line: bytes, default_level: int) -> None:
        if line and line[0] == _FLUSHED_MARK:
            try:
                self._lines_flushed(int(line[1:]))
                return
            except ValueError:
                pass  # not our mark: an ordinary line that happens to start with the byte
        tool, level, call_id = "-", default_level, None
        if line and line[0] == _LOG_MARK:
            parts = line[1:].split(_FIELD, 3)
            if len(parts) == 4:
                tool, level = parts[0].decode("utf-8", "replace"), _LEVELS.get(parts[1], default_level)
                call_id, line = parts[2].decode("utf-8", "replace") or None, parts[3]
        if self.on_log is not None and self.forward_logs():  # the live tail has its own budget (log_forwarder.py)
            self.on_log(
                tool,
                call_id,
                _TAIL_LEVELS.get(level, "info"),
                line[:MAX_LOG_LINE_BYTES].decode("utf-8", "replace").rstrip("\r"),
            )
        if not self._budget.take():
            return
        if self._budget.dropped:
            self.logger.warning("tool worker %d logged too fast; %d lines dropped", self.index, self._budget.dropped)
            self._budget.dropped = 0
        if len(line) > MAX_LOG_LINE_BYTES:
            line = line[:MAX_LOG_LINE_BYTES] + b"... (truncated)"
        if self.logger.isEnabledFor(level):
            text = line.decode("utf-8", "replace").rstrip("\r")
            self.logger.log(level, "tool %s: %s", tool, text, extra={"tool": tool, "worker": self.index})

    async def _wait_exit(self) -> None:
        code = await self.process.wait()
        if self.exit_reason is None:
            self.exit_reason = f"exited with code {code}" if code >= 0 else f"was killed by signal {-code}"
        self.ready = False
        self.writer.close()
        for held in list(self._held_answers):  # answers that came before the worker died still count
            self._release(held)
        if not self.exited.done():
            self.exited.set_result(code)

    async def wait_closed(self) -> None:
        """Wait for the pumps to finish after exit (so no task outlives the worker)."""
        await asyncio.shield(self.exited)
        # The pumps end at EOF; a grandchild holding the pipes open must not keep them forever.
        _, still_running = await asyncio.wait(self._tasks, timeout=1.0)
        for task in still_running:
            task.cancel()
        for outcome in await asyncio.gather(*self._tasks, return_exceptions=True):
            if isinstance(outcome, Exception):  # a pump that broke, not one cancelled above
                self.logger.error("tool worker %d: %r", self.index, outcome, exc_info=outcome)
