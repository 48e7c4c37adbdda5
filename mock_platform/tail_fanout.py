"""The live tail's fan-out (SPEC.md §13), without I/O: who watches what, and what each viewer is owed.

The call path publishes here synchronously and never waits: each viewer has a bounded queue of
encoded frames, and an event that finds the queue full is counted instead of queued; the viewer is
told `{"type":"dropped","count":N}` at the gap, before the next event it does get. An event is
encoded once, on the first viewer that wants it, and a platform with no viewer for an org pays one
dict lookup per call. The shell (`tail.py`) moves the frames to the sockets.

With a `status` filter a log line cannot be judged until its call ends, so lines of a call wait
(bounded) until the call's event decides them; they are then delivered before it, or discarded.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from typing import TypeVar

import orjson

from edge_protocol.tail import MAX_VIEWERS_PER_ORG, CallEvent, DroppedEvent, LogEvent, TailFilter

#: Frames a viewer may be behind before events are dropped for it (≈ 300 KB of call events).
VIEWER_QUEUE_FRAMES = 1000
#: Log lines a status-filtered viewer holds for calls still running; beyond, the oldest call's go.
PARKED_LINES = 1000
#: Calls whose outcome a status-filtered viewer remembers, for lines that arrive after their call.
DECIDED_CALLS = 1000

#: What `TailFanout` publishes: a call's outcome or one of its log lines.
Event = TypeVar("Event", CallEvent, LogEvent)


class TooManyViewers(Exception):
    """The organization already has `MAX_VIEWERS_PER_ORG` streams open."""


class TailViewer:
    """One open stream: its filter, its queue and what it missed. `wake` is called when a frame is ready."""

    def __init__(self, org_id: str, filter: TailFilter, capacity: int = VIEWER_QUEUE_FRAMES) -> None:
        self.org_id = org_id
        self.filter = filter
        self.capacity = capacity
        self.queue: deque[str] = deque()
        self.dropped = 0  # events missed since the last `dropped` frame was queued or taken
        self.dropped_total = 0
        self.wake: Callable[[], None] = lambda: None
        self._parked: OrderedDict[str, list[str]] = OrderedDict()  # call id -> its log frames
        self._parked_lines = 0
        self._decided: OrderedDict[str, bool] = OrderedDict()  # call id -> did the call match

    # ------------------------------------------------------------------------------ producer side
    def offer_call(self, event: CallEvent, encode: Callable[[], str]) -> None:
        if not self.filter.matches(event):
            if self.filter.status is not None:
                self._decide(event.call_id, False)
            return
        if self.filter.status is not None:
            self._decide(event.call_id, True)
            for frame in self._unpark(event.call_id):
                self._push(frame)
        self._push(encode())

    def offer_log(self, event: LogEvent, encode: Callable[[], str]) -> None:
        if not self.filter.matches(event):
            return
        call_id = event.line.call_id
        if self.filter.status is None or call_id is None:
            self._push(encode())
            return
        decided = self._decided.get(call_id)
        if decided is True:
            self._push(encode())
        elif decided is None:
            self._park(call_id, encode())

    def _push(self, frame: str) -> None:
        room = self.capacity - len(self.queue)
        if room <= 0 or (self.dropped and room < 2):
            self._miss(1)
            return
        if self.dropped:
            self.queue.append(_dropped_frame(self.dropped))  # the gap is reported where it happened
            self.dropped = 0
        self.queue.append(frame)
        self.wake()

    def _miss(self, count: int) -> None:
        self.dropped += count
        self.dropped_total += count

    def _decide(self, call_id: str, matched: bool) -> None:
        self._decided[call_id] = matched
        if len(self._decided) > DECIDED_CALLS:
            self._decided.popitem(last=False)
        if not matched:
            self._unpark(call_id)

    def _park(self, call_id: str, frame: str) -> None:
        self._parked.setdefault(call_id, []).append(frame)
        self._parked_lines += 1
        while self._parked_lines > PARKED_LINES:
            # A call logging more than we hold: its oldest lines are lost, and said to be.
            oldest, frames = next(iter(self._parked.items()))
            frames.pop(0)
            self._parked_lines -= 1
            self._miss(1)
            if not frames:
                del self._parked[oldest]

    def _unpark(self, call_id: str) -> list[str]:
        frames = self._parked.pop(call_id, [])
        self._parked_lines -= len(frames)
        return frames

    # ------------------------------------------------------------------------------ consumer side
    def take(self) -> str | None:
        """The next frame to send, a `dropped` frame once the queue is empty after a gap, or None."""
        if self.queue:
            return self.queue.popleft()
        if self.dropped:
            frame, self.dropped = _dropped_frame(self.dropped), 0
            return frame
        return None

    @property
    def pending(self) -> int:
        return len(self.queue) + (1 if self.dropped else 0)


class TailFanout:
    """Every open viewer by organization; publishes call and log events to the ones that match."""

    def __init__(self, max_per_org: int = MAX_VIEWERS_PER_ORG, capacity: int = VIEWER_QUEUE_FRAMES) -> None:
        self.max_per_org = max_per_org
        self.capacity = capacity
        self._by_org: dict[str, list[TailViewer]] = {}

    def open(self, org_id: str, filter: TailFilter) -> TailViewer:
        viewers = self._by_org.setdefault(org_id, [])
        if len(viewers) >= self.max_per_org:
            raise TooManyViewers(org_id)
        viewer = TailViewer(org_id, filter, self.capacity)
        viewers.append(viewer)
        return viewer

    def close(self, viewer: TailViewer) -> None:
        viewers = self._by_org.get(viewer.org_id)
        if viewers is None or viewer not in viewers:
            return
        viewers.remove(viewer)
        if not viewers:
            del self._by_org[viewer.org_id]

    def watching(self, org_id: str) -> bool:
        """Whether anyone tails `org_id` (the call path skips building events when nobody does)."""
        return org_id in self._by_org

    def viewers(self, org_id: str) -> list[TailViewer]:
        return list(self._by_org.get(org_id, ()))

    def wants_logs(self, org_id: str, deployment_id: str | None) -> bool:
        """Whether some viewer of `org_id` could see this deployment's log lines (its connector forwards them)."""
        return any(viewer.filter.covers_deployment(deployment_id) for viewer in self._by_org.get(org_id, ()))

    def publish_call(self, org_id: str, event: CallEvent) -> None:
        self._publish(org_id, event, TailViewer.offer_call)

    def publish_log(self, org_id: str, event: LogEvent) -> None:
        self._publish(org_id, event, TailViewer.offer_log)

    def _publish(
        self, org_id: str, event: Event, offer: Callable[[TailViewer, Event, Callable[[], str]], None]
    ) -> None:
        """Offer `event` to every viewer of `org_id`; it is encoded once, by the first viewer that takes it."""
        viewers = self._by_org.get(org_id)
        if not viewers:
            return
        encode = _once(event)
        for viewer in viewers:
            offer(viewer, event, encode)


def _once(event: CallEvent | LogEvent) -> Callable[[], str]:
    """The event's frame, encoded on first use and shared by every viewer that takes it."""
    frame: list[str] = []

    def encode() -> str:
        if not frame:
            frame.append(orjson.dumps(event.to_wire()).decode("utf-8"))
        return frame[0]

    return encode


def _dropped_frame(count: int) -> str:
    return orjson.dumps(DroppedEvent(count).to_wire()).decode("utf-8")
