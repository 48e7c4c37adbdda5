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

from collections import deque
from typing import Callable

from edge_protocol.tail import (
    MAX_LOG_ENTRIES_PER_BATCH,
    MAX_LOG_LINE_BYTES,
    MAX_LOG_LINES_PER_SECOND,
    LogLine,
    truncate_utf8,
)

from .logs import redact

#: How long the shell waits after the first waiting line before sending the batch.
BATCH_INTERVAL_SECONDS = 0.1
#: Lines kept while the link is slow to take them; beyond, they are dropped and counted.
MAX_PENDING_LINES = 1000


class LogForwarder:
    def __init__(self, rate: int = MAX_LOG_LINES_PER_SECOND, window: float = 1.0,
                 batch_size: int = MAX_LOG_ENTRIES_PER_BATCH, max_line_bytes: int = MAX_LOG_LINE_BYTES,
                 scrub: Callable[[str], str] = redact) -> None:
        self.rate, self.window, self.batch_size, self.max_line_bytes = rate, window, batch_size, max_line_bytes
        self.scrub = scrub
        self.subscribed = False
        self._accepted: deque[float] = deque()  # times of the lines accepted in the last window
        self._pending: deque[LogLine] = deque()
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
        self._pending.append(LogLine(at, tool, call_id, level, message))
        return True

    @property
    def waiting(self) -> bool:
        return bool(self._pending) or self._dropped > 0

    def take_batch(self, at: str) -> list[LogLine]:
        """Up to `batch_size` lines in the order they came, then the drop report if lines were dropped."""
        batch: list[LogLine] = []
        pending = self._pending
        room = self.batch_size - (1 if self._dropped else 0)  # the drop report needs a slot too
        while pending and len(batch) < room:
            batch.append(pending.popleft())
        self.forwarded_total += len(batch)
        if not pending and self._dropped:
            tools = self._dropped_tools
            tool = next(iter(tools)) if len(tools) == 1 else "-"
            batch.append(LogLine(at, tool, None, "warn",
                                 f"{self._dropped} lines dropped (more than {self.rate} lines/s)"))
            self._dropped = 0
            tools.clear()
        return batch
