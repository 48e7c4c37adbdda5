"""Retry delays (SPEC.md §6, §8, §14): doubling from the initial delay to the cap, jitter after the
cap, and a refusal's `Retry-After` honoured instead of the schedule.

The one retry policy of the project: the runtime's reconnects, its bundle sync retries and worker
restarts, the CLI's HTTP retries. Pure policy, no clock of its own: the caller says when a connection
(or a worker) was made and lost, so tests drive it with plain numbers.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

#: A connection must have lasted this long before the next failure starts again from the initial delay.
STABLE_AFTER_SECONDS = 30.0
#: The longest `Retry-After` a connector waits (SPEC.md §14): a platform asking for more gets this.
MAX_RETRY_AFTER_SECONDS = 300.0


@dataclass
class Backoff:
    initial: float = 5.0
    maximum: float = 60.0
    jitter: float = 0.10
    stable_after: float = STABLE_AFTER_SECONDS
    rng: random.Random = field(default_factory=random.Random)
    #: The longest `Retry-After` taken as given; a longer one is cut to this.
    max_retry_after: float = MAX_RETRY_AFTER_SECONDS
    attempts: int = 0

    def base_delay(self) -> float:
        """The un-jittered delay for the current attempt count: 5, 10, 20, 40, 60, 60 …"""
        if self.attempts <= 0:
            return self.initial
        return min(self.maximum, self.initial * (2.0 ** min(self.attempts, 30)))

    def next_delay(self) -> float:
        """Delay before the next attempt; counts the attempt.

        Jitter is applied to the capped value, so a fleet held at the cap spreads out instead of
        reconnecting in step.
        """
        base = self.base_delay()
        self.attempts += 1
        return max(0.0, base * (1 + self.rng.uniform(-self.jitter, self.jitter)))

    def at_maximum(self) -> float:
        """A delay at the cap (used for `Deployment already connected`); counts the attempt."""
        self.attempts += 1
        return max(0.0, self.maximum * (1 + self.rng.uniform(-self.jitter, self.jitter)))

    def after_retry_after(self, retry_after: float) -> float:
        """Delay for a refusal that said when to come back (a 503 handshake's `Retry-After`, SPEC.md §14):
        the platform's hint instead of the schedule, capped at `max_retry_after` (300 s), with the same
        jitter so a herd told the same second does not return in step; counts the attempt."""
        self.attempts += 1
        hinted = min(max(0.0, retry_after), self.max_retry_after)
        return hinted * (1 + self.rng.uniform(-self.jitter, self.jitter))

    def delay_after(self, retry_after: float | None) -> float:
        """The refusal's `Retry-After` when it gave one (`after_retry_after`), else `next_delay()`."""
        return self.next_delay() if retry_after is None else self.after_retry_after(retry_after)

    def connection_lost(self, connected_for: float) -> None:
        """Called when an established connection ends; a stable one resets the schedule."""
        if connected_for >= self.stable_after:
            self.reset()

    def reset(self) -> None:
        """The next delay starts again from `initial` (after a success)."""
        self.attempts = 0


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """`Retry-After` (RFC 9110: delay seconds or an HTTP date) as seconds; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
