"""The platform's heartbeat (SPEC.md §7): one timer pings every WebSocket, instead of one timer per link.

Every link is visited once per interval: a link whose previous ping is still unanswered is dead and is
closed; any other link gets a new ping. So a peer that stops answering is closed at most two intervals
after its last pong ("a peer silent for 2 intervals is dead"), as with a per-link ping timer whose pong
timeout is the interval, and a link that has just arrived gets its first ping one interval later.

The interval is cut into `SLOTS` slices and each link sits in one slice, so the pings (and the pongs
they bring back) of thousands of links are spread over the interval rather than sent in one burst.
`Heartbeat` only decides who is visited when; what a visit does is the link's `beat()`
(`ws_protocol.HubWebSocketProtocol`), so it is tested with plain objects and a hand-turned clock.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

#: Slices of one interval: each tick visits the links of one slice.
SLOTS = 10


class Beating(Protocol):
    """A link the heartbeat visits: ping it, or close it if its last ping went unanswered."""

    heartbeat_slot: int  # its slice while joined, -1 otherwise

    def beat(self) -> None: ...


class Heartbeat:
    """Which links are pinged at which tick; `start_timer` turns the ticks on an event loop."""

    def __init__(self, interval: float, slots: int = SLOTS) -> None:
        if not interval > 0:
            raise ValueError(f"the heartbeat interval must be positive, got {interval}")
        self.interval = interval
        self._slots: list[dict[Beating, None]] = [{} for _ in range(slots)]  # insertion-ordered sets
        self._current = 0  # the slice the last tick visited
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return sum(len(slot) for slot in self._slots)

    def join(self, link: Beating) -> None:
        """A new link: first visited a whole interval from now (its slice was just visited)."""
        link.heartbeat_slot = self._current
        self._slots[self._current][link] = None
        if self._timer is None:
            self.start_timer()

    def leave(self, link: Beating) -> None:
        if link.heartbeat_slot >= 0:
            self._slots[link.heartbeat_slot].pop(link, None)
            link.heartbeat_slot = -1
        if self._timer is not None and not any(self._slots):
            self._timer.cancel()  # nothing to ping: no timer left behind on an idle or stopping server
            self._timer = None

    def tick(self) -> None:
        """Visit the next slice (one `interval / SLOTS` after the previous tick)."""
        self._current = (self._current + 1) % len(self._slots)
        for link in list(self._slots[self._current]):
            link.beat()  # may close the link, which then leaves

    def start_timer(self) -> None:
        loop = asyncio.get_running_loop()
        step = self.interval / len(self._slots)

        def fire() -> None:
            self._timer = None
            self.tick()
            if any(self._slots):
                self._timer = loop.call_later(step, fire)

        self._timer = loop.call_later(step, fire)
