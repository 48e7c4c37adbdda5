"""The connection's state and reconnect policy, without I/O (SPEC.md §7, §8).

`ConnectionPolicy` is told what happened (`attempting`, `connected`, `registered`, `refused`, `lost`)
with the time it happened and answers how long to wait before the next attempt. The I/O shell in
`runtime.py` does the waiting and the sockets; tests drive this class with a fake clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from edge_protocol.backoff import Backoff
from edge_protocol.failures import FailureKind

__all__ = ["ConnectionPolicy", "Failure", "FailureKind", "LinkState"]


class LinkState(str, Enum):
    STARTING = "starting"
    CONNECTING = "connecting"
    CONNECTED = "connected"  # socket open, hello not answered yet
    REGISTERED = "registered"  # hello answered: the platform routes calls here
    WAITING = "waiting"  # backing off before the next attempt
    STOPPING = "stopping"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Failure:
    kind: FailureKind
    message: str
    #: Seconds the platform asked us to wait (`Retry-After` of a 503 handshake, SPEC.md §14).
    retry_after: float | None = None


class ConnectionPolicy:
    """State, counters and the next delay of one runtime's link to the platform."""

    def __init__(self, backoff: Backoff, clock: Callable[[], float]) -> None:
        self.backoff = backoff
        self.clock = clock
        self.state = LinkState.STARTING
        self.last_error: str | None = None
        self.last_error_at: float | None = None
        self.next_retry_at: float | None = None
        self.connected_since: float | None = None
        self.connects = 0  # successful registrations, for metrics
        self.disconnects = 0

    @property
    def reconnect_attempts(self) -> int:
        return self.backoff.attempts

    def attempting(self) -> None:
        self.state = LinkState.CONNECTING
        self.next_retry_at = None

    def connected(self) -> None:
        self.state = LinkState.CONNECTED
        self.connected_since = self.clock()

    def registered(self) -> None:
        # The backoff is not reset here: only a link that stays up for `stable_after` seconds resets
        # it, so a platform that accepts and drops at once is not hammered.
        self.state = LinkState.REGISTERED
        self.connects += 1

    def refused(self, failure: Failure) -> float:
        """An attempt failed before the link was established; returns the delay before the next one."""
        if self.connected_since is not None:
            return self.lost(failure)
        return self._wait(failure)

    def lost(self, failure: Failure) -> float:
        """An established link ended; returns the delay before reconnecting."""
        if self.connected_since is not None:
            self.backoff.connection_lost(self.clock() - self.connected_since)
            self.connected_since = None
            self.disconnects += 1
        return self._wait(failure)

    def stopping(self) -> None:
        self.state = LinkState.STOPPING
        self.next_retry_at = None

    def stopped(self) -> None:
        self.state = LinkState.STOPPED
        self.connected_since = None

    def _wait(self, failure: Failure) -> float:
        self.last_error = failure.message
        self.last_error_at = self.clock()
        delay = self.delay_for(failure)
        self.state = LinkState.WAITING
        self.next_retry_at = self.clock() + delay
        return delay

    def delay_for(self, failure: Failure) -> float:
        """The wait before the next attempt after `failure`; counts the attempt."""
        if failure.kind is FailureKind.DUPLICATE:
            # A duplicate will not go away in seconds (another runtime holds the deployment): wait the
            # maximum so two runtimes fighting over one deployment do not flood the platform.
            return self.backoff.at_maximum()
        if failure.kind is FailureKind.UNAVAILABLE and failure.retry_after is not None:
            # The platform is shaping a herd and gave us our slot: take it instead of our own schedule.
            return self.backoff.after_retry_after(failure.retry_after)
        return self.backoff.next_delay()

    @property
    def healthy(self) -> bool:
        return self.state is LinkState.REGISTERED

    def snapshot(self) -> dict[str, Any]:
        """The `/statusz` view; times are seconds of `clock`, the caller converts them to wall time."""
        return {
            "state": self.state.value,
            "connectedSince": self.connected_since,
            "lastError": self.last_error,
            "lastErrorAt": self.last_error_at,
            "reconnectAttempts": self.reconnect_attempts,
            "nextRetryAt": self.next_retry_at,
            "connects": self.connects,
            "disconnects": self.disconnects,
        }
