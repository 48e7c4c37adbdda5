"""Handshake admission: shape a reconnect herd instead of letting it hammer the platform (SPEC.md §14).

When every connector of a fleet loses its link at once (a platform restart, a network blip), they
all come back within a few seconds of each other: 100,000 connectors on the §8 schedule make a first
wave of ~50,000 handshakes/s against a platform that admits a few thousand. Refusing the excess
without a hint sends them back to their own doubling schedule, and the herd keeps arriving in waves
(203 s until 99 % are back in the simulation, where the floor is 60 s).

`HandshakeAdmission` admits up to `capacity` handshakes per second (a token bucket `burst` deep) and
refuses the rest with a `Retry-After` that gives each refused connector its own slot after everyone
already told to come back: the backlog it joins divided by the capacity. The refused herd then
returns spread over exactly the time the platform needs to admit it.

Pure: the caller passes the time (seconds of any monotonic clock), so tests and
`benchmarks/reconnect_storm.py` drive the very object the hub uses with plain numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Handshakes per second the reference platform admits before it shapes the herd (`--handshake-rate`).
DEFAULT_HANDSHAKES_PER_SECOND = 2000.0


@dataclass(frozen=True)
class AdmissionDecision:
    admitted: bool
    #: Whole seconds for the refusal's `Retry-After` header (RFC 9110 delay-seconds); None when admitted.
    retry_after: int | None = None
    #: Connectors told to come back and not yet due, this one included (for logs and metrics).
    backlog: int = 0


ADMITTED = AdmissionDecision(True)


@dataclass
class HandshakeAdmission:
    """Token bucket plus a queue of promised slots, one decision per arriving handshake."""

    capacity: float = DEFAULT_HANDSHAKES_PER_SECOND
    burst: float | None = None  # default: one second's worth
    tokens: float | None = None
    updated_at: float | None = None
    #: The time by which every connector already told to retry will have had its slot.
    promised_until: float = 0.0

    def __post_init__(self) -> None:
        if not self.capacity > 0:
            raise ValueError(f"handshake capacity must be above 0 per second, got {self.capacity}")
        if self.burst is None:
            self.burst = max(1.0, self.capacity)
        if self.tokens is None:
            self.tokens = self.burst

    def offer(self, now: float) -> AdmissionDecision:
        """A handshake arrives at `now`: admit it, or refuse it with its slot as `Retry-After`."""
        self._refill(now)
        assert self.tokens is not None
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return ADMITTED
        slot = max(self.promised_until, now) + 1.0 / self.capacity
        self.promised_until = slot
        backlog = round((slot - now) * self.capacity)
        return AdmissionDecision(False, retry_after_seconds(backlog, self.capacity), backlog)

    def backlog(self, now: float) -> int:
        """Connectors told to come back whose slot is still ahead of `now`."""
        return max(0, round((self.promised_until - now) * self.capacity))

    def _refill(self, now: float) -> None:
        assert self.tokens is not None and self.burst is not None
        if self.updated_at is not None and now > self.updated_at:
            self.tokens = min(self.burst, self.tokens + (now - self.updated_at) * self.capacity)
        if self.updated_at is None or now > self.updated_at:
            self.updated_at = now


def retry_after_seconds(backlog: int, capacity: float) -> int:
    """`Retry-After` for the `backlog`th connector in line at `capacity` per second: backlog / capacity,
    in whole seconds (the header has no fractions), at least 1."""
    return max(1, math.ceil(backlog / capacity))
