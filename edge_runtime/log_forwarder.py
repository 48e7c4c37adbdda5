"""Which tool console lines go to the platform, and in which batches (SPEC.md §13), without I/O.

Lines are forwarded only while the platform has said someone tails this connector
(`logs.subscribe {on: true}`); otherwise `offer` returns at once and nothing is kept. While
subscribed, at most `MAX_LOG_LINES_PER_SECOND` lines per sliding second pass, for all tools
together; the excess is counted and reported as one "N lines dropped" entry in the next batch, so
a tool logging in a loop can neither flood the link nor grow memory. Each line goes through the
runtime's log redactor (tokens, secrets) and is then cut to 4 KiB (redacting first, so a cut never
leaves half a secret behind). The shell calls `take_batch` a moment after `offer` says a line is
waiting, so many lines travel in one `tools.log` message.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from edge_protocol.messages import LogEntry
from edge_protocol.tail import (
    MAX_LOG_ENTRIES_PER_BATCH,
    MAX_LOG_LINE_BYTES,
    MAX_LOG_LINES_PER_SECOND,
    truncate_utf8,
)

from .logs import redact

#: How long the shell waits after the first waiting line before sending the batch.
BATCH_INTERVAL_SECONDS = 0.1
#: Lines kept while the link is slow to take them; beyond, they are dropped and counted.
MAX_PENDING_LINES = 1000


class LogForwarder:
    def __init__(
        self,
        rate: int = MAX_LOG_LINES_PER_SECOND,
        window: float = 1.0,
        batch_size: int = MAX_LOG_ENTRIES_PER_BATCH,
        max_line_bytes: int = MAX_LOG_LINE_BYTES,
        scrub: Callable[[str], str] = redact,
    ) -> None:
        self.rate, self.window, self.batch_size, self.max_line_bytes = rate, window, batch_size, max_line_bytes
        self.scrub = scrub
        self.subscribed = False
        self._accepted: deque[float] = deque()  # times of the lines accepted in the last window
        self._pending: deque[LogEntry] = deque()
        self._dropped = 0
        self._dropped_tools: set[str] = set()
        self.forwarded_total = 0
        self.dropped_total = 0

    def set_subscribed(self, on: bool) -> None:
        """Follow `logs.subscribe`; turning off (or a new link) forgets whatever was waiting."""
        self.subscribed = on
        if not on:
            self._pending.clear()
            self._dropped = 0
            self._dropped_tools.clear()

    def offer(self, now: float, at: str, tool: str, call_id: str | None, level: str, text: str) -> bool:
        """One console line; True when a batch now waits to be taken (the shell schedules a send)."""
        if not self.subscribed:
            return False
        accepted = self._accepted
        while accepted and accepted[0] <= now - self.window:
            accepted.popleft()
        if len(accepted) >= self.rate or len(self._pending) >= MAX_PENDING_LINES:
            self._dropped += 1
            self.dropped_total += 1
            self._dropped_tools.add(tool)
            return True
        accepted.append(now)
        message = truncate_utf8(self.scrub(text), self.max_line_bytes)
        self._pending.append(LogEntry(at, tool, call_id, level, message))
        return True

    @property
    def waiting(self) -> bool:
        return bool(self._pending) or self._dropped > 0

    def take_batch(self, at: str) -> list[LogEntry]:
        """Up to `batch_size` lines in the order they came, then the drop report if lines were dropped."""
        batch: list[LogEntry] = []
        pending = self._pending
        room = self.batch_size - (1 if self._dropped else 0)  # the drop report needs a slot too
        while pending and len(batch) < room:
            batch.append(pending.popleft())
        self.forwarded_total += len(batch)
        if not pending and self._dropped:
            tools = self._dropped_tools
            tool = next(iter(tools)) if len(tools) == 1 else "-"
            batch.append(
                LogEntry(at, tool, None, "warn", f"{self._dropped} lines dropped (more than {self.rate} lines/s)")
            )
            self._dropped = 0
            tools.clear()
        return batch


class LogShipper:
    """The forwarder's shell: takes the executor's console lines, sends `tools.log` batches on the link.

    `line` is the executor's `tool_log_sink` (called on the event loop for every console line; a
    plain attribute check when nobody tails). `run` lives as long as one link, in that link's task
    group: it wakes on the first waiting line, lets a batch gather for `BATCH_INTERVAL_SECONDS`, and
    sends until nothing waits. `send` gets the lines of one batch and puts them on the wire.
    """

    def __init__(
        self,
        forwarder: LogForwarder,
        send: Callable[[list[LogEntry]], Awaitable[None]],
        clock: Callable[[], float] = time.monotonic,
        interval: float = BATCH_INTERVAL_SECONDS,
    ) -> None:
        self.forwarder, self.send, self.clock, self.interval = forwarder, send, clock, interval
        self._wake = asyncio.Event()

    def line(self, tool: str, call_id: str | None, level: str, text: str) -> None:
        forwarder = self.forwarder
        if forwarder.subscribed and forwarder.offer(self.clock(), utc_now_iso(), tool, call_id, level, text):
            self._wake.set()

    async def flush(self) -> None:
        """Send what waits now (before a call's answer, so a tail gets a call's lines before its result)."""
        forwarder = self.forwarder
        while forwarder.subscribed and forwarder.waiting:
            await self.send(forwarder.take_batch(utc_now_iso()))

    async def run(self) -> None:
        forwarder = self.forwarder
        while True:
            await self._wake.wait()
            await asyncio.sleep(self.interval)  # let a batch gather: one frame for many lines
            self._wake.clear()
            while forwarder.waiting:
                await self.send(forwarder.take_batch(utc_now_iso()))


def utc_now_iso() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
