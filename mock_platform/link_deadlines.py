"""One timer for every link's next deadline (hello timeout, token expiry), instead of one per link.

A link is held for hours and its next deadline is usually its token's expiry, an hour away: a timer
handle per link costs ~0.6 KiB of a platform holding thousands of them, an entry of this heap ~0.1 KiB.
`DeadlineTimer` keeps the entries in a heap (wall-clock seconds, as the link machine counts them) and
arms one loop timer at the earliest; at it, `wake` gets each link that is due. A cancelled entry is
only marked (the heap's usual recipe) and the heap is rebuilt when most of it is cancelled, so links
that come and go leave nothing behind for long.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Any

#: Rebuild the heap when cancelled entries are more than half of it (and at least this many).
COMPACT_AT = 64


class DeadlineTimer:
    def __init__(self, wake: Callable[[Any], None], clock: Callable[[], float] = time.time) -> None:
        self._wake = wake
        self._clock = clock
        self._heap: list[list[Any]] = []  # [at, sequence, item or None once cancelled]
        self._sequence = itertools.count()
        self._cancelled = 0
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at: float | None = None

    def __len__(self) -> int:
        """Entries not cancelled."""
        return len(self._heap) - self._cancelled

    def schedule(self, at: float, item: Any) -> list[Any]:
        """Wake `item` at `at` (wall clock); the returned entry is what `cancel` takes."""
        entry = [at, next(self._sequence), item]
        heapq.heappush(self._heap, entry)
        if self._armed_at is None or at < self._armed_at:
            self._arm()
        return entry

    def cancel(self, entry: list[Any]) -> None:
        if entry[2] is not None:
            entry[2] = None
            self._cancelled += 1
            if self._cancelled >= COMPACT_AT and self._cancelled * 2 > len(self._heap):
                self._heap = [e for e in self._heap if e[2] is not None]
                heapq.heapify(self._heap)
                self._cancelled = 0

    def due(self, now: float) -> list[Any]:
        """Take out and return the items whose time has come."""
        items = []
        while self._heap and self._heap[0][0] <= now:
            _, _, item = heapq.heappop(self._heap)
            if item is None:
                self._cancelled -= 1
            else:
                items.append(item)
        return items

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._armed_at = None

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._armed_at = None
        if self._heap:
            self._armed_at = self._heap[0][0]
            delay = max(0.0, self._armed_at - self._clock())
            self._timer = asyncio.get_running_loop().call_later(delay, self._fire)

    def _fire(self) -> None:
        self._timer = self._armed_at = None
        for item in self.due(self._clock()):
            self._wake(item)
        self._arm()
