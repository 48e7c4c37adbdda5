"""What `edge-connector tail` prints on a terminal (SPEC.md §13), as pure functions of the events.

A call line shows time, deployment, tool, outcome, duration, call id and the connector that ran it
(which replica, when a deployment has several); the log lines of a call are
printed under it. A call's lines usually arrive before its `call` event (the tool logs while it runs),
so they are held until the call ends, and no longer than `HOLD_SECONDS`: a call still running after
that shows its lines as they come, each naming its call, so a long call is never silent.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from edge_protocol.tail import CallEvent, DroppedEvent, LogEvent, TailEvent

#: How long log lines wait for their call's event before they are shown on their own.
HOLD_SECONDS = 1.0
#: Calls whose lines are held at once; beyond, the oldest call's lines are shown on their own.
MAX_HELD_CALLS = 200
#: Calls remembered as printed, so their late lines still show under them.
MAX_PRINTED_CALLS = 1000


@dataclass(frozen=True)
class Line:
    text: str
    style: str | None = None  # a rich style name, or None


def clock(at: str) -> str:
    """`2026-11-30T10:00:01.234Z` as local `10:00:01.234` (the raw text if it is not a timestamp)."""
    try:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone()
    except ValueError:
        return at
    return moment.strftime("%H:%M:%S.") + f"{moment.microsecond // 1000:03d}"


def short_id(call_id: str | None) -> str:
    if not call_id:
        return "-"
    return call_id if len(call_id) <= 17 else call_id[:17] + "…"


def call_line(event: CallEvent) -> Line:
    outcome = event.outcome
    text = (
        f"{clock(event.at)}  {event.deployment_id or '-'}  {event.tool}  {outcome}  "
        f"{event.duration_ms:.1f} ms  {short_id(event.call_id)}"
    )
    if event.connector_id:  # which replica ran it (SPEC.md §14); absent when none took the call
        text += f"  {short_id(event.connector_id)}"
    if event.outcome != "ok":
        code = event.error_code if event.error_code and event.error_code != outcome else None
        text += f"  {code + ': ' if code else ''}{event.error_message or ''}".rstrip()
    return Line(text, "green" if outcome == "ok" else "red")


def log_line(event: LogEvent, *, under_call: bool) -> Line:
    line = event.line
    style = "red" if line.level == "error" else "yellow" if line.level == "warn" else None
    if under_call:
        return Line(f"    │ {clock(line.at)} {line.level:<5} {line.message}", style)
    owner = f"{line.tool} {short_id(line.call_id)}" if line.call_id else line.tool
    return Line(f"{clock(line.at)}  {event.deployment_id or '-'}  {owner}  {line.level:<5} {line.message}", style)


def dropped_line(event: DroppedEvent) -> Line:
    return Line(
        f"… {event.count} events dropped: this terminal read more slowly than they came "
        "(narrow the stream with --deployment, --tool or --status)",
        "yellow",
    )


class TailView:
    """Turns events into lines, holding a call's log lines until the call ends. `now` is a monotonic time."""

    def __init__(self, hold_seconds: float = HOLD_SECONDS) -> None:
        self.hold_seconds = hold_seconds
        self._held: OrderedDict[str, tuple[float, list[LogEvent]]] = OrderedDict()
        self._printed: OrderedDict[str, None] = OrderedDict()
        self._streaming: OrderedDict[str, None] = OrderedDict()  # calls whose lines now show as they come

    def event(self, event: TailEvent, now: float) -> list[Line]:
        if isinstance(event, CallEvent):
            _, held = self._held.pop(event.call_id, (now, []))
            self._streaming.pop(event.call_id, None)
            _remember(self._printed, event.call_id)
            return [call_line(event), *(log_line(e, under_call=True) for e in held)]
        if isinstance(event, LogEvent):
            call_id = event.line.call_id
            if call_id is None:
                return [log_line(event, under_call=False)]
            if call_id in self._printed:
                return [log_line(event, under_call=True)]
            if call_id in self._streaming:
                return [log_line(event, under_call=False)]
            if call_id in self._held:
                self._held[call_id][1].append(event)
                return []
            self._held[call_id] = (now, [event])
            lines: list[Line] = []
            while len(self._held) > MAX_HELD_CALLS:
                lines.extend(self._release(next(iter(self._held))))
            return lines
        return [dropped_line(event)]

    def tick(self, now: float) -> list[Line]:
        """Lines of calls that have run longer than the hold: shown on their own from now on."""
        lines: list[Line] = []
        for call_id, (since, _) in list(self._held.items()):
            if now - since >= self.hold_seconds:
                lines.extend(self._release(call_id))
        return lines

    def _release(self, call_id: str) -> list[Line]:
        _, held = self._held.pop(call_id)
        _remember(self._streaming, call_id)
        return [log_line(e, under_call=False) for e in held]


def _remember(calls: OrderedDict[str, None], call_id: str) -> None:
    calls[call_id] = None
    if len(calls) > MAX_PRINTED_CALLS:
        calls.popitem(last=False)
