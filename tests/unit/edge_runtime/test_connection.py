"""The reconnect policy and link state, driven by a fake clock (no sockets, no sleeping)."""

from __future__ import annotations

import random

from edge_protocol.backoff import Backoff
from edge_runtime.connection import ConnectionPolicy, Failure, FailureKind, LinkState


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def policy(jitter: float = 0.0, initial: float = 5.0, maximum: float = 60.0) -> tuple[ConnectionPolicy, FakeClock]:
    clock = FakeClock()
    return ConnectionPolicy(
        Backoff(initial=initial, maximum=maximum, jitter=jitter, rng=random.Random(7)), clock
    ), clock


REFUSED = Failure(FailureKind.UNREACHABLE, "ECONNREFUSED: nothing is listening at ws://x")
LOST = Failure(FailureKind.LOST, "platform restarting (close 1012)")
DUPLICATE = Failure(FailureKind.DUPLICATE, "Deployment already connected")


def test_refusals_back_off_5_10_20_40_60_60():
    link, _ = policy()
    delays = []
    for _ in range(7):
        link.attempting()
        delays.append(link.refused(REFUSED))
    assert delays == [5, 10, 20, 40, 60, 60, 60]
    assert link.state is LinkState.WAITING
    assert link.reconnect_attempts == 7
    assert link.last_error == REFUSED.message


def test_next_retry_is_reported_in_clock_time():
    link, clock = policy()
    link.attempting()
    delay = link.refused(REFUSED)
    assert link.snapshot()["nextRetryAt"] == clock.now + delay
    link.attempting()
    assert link.snapshot()["nextRetryAt"] is None


def test_jitter_is_within_ten_percent_and_applies_at_the_cap():
    link, _ = policy(jitter=0.10)
    delays = []
    for _ in range(40):
        link.attempting()
        delays.append(link.refused(REFUSED))
    capped = delays[5:]
    assert all(54 <= d <= 66 for d in capped)
    assert len({round(d, 6) for d in capped}) > 1, "a fleet at the cap must not reconnect in step"
    assert 4.5 <= delays[0] <= 5.5


def test_a_link_lost_after_a_short_life_keeps_growing_the_delay():
    link, clock = policy()
    for expected in (5, 10, 20):
        link.attempting()
        link.connected()
        link.registered()
        assert link.healthy
        clock.advance(3)  # shorter than the 30 s that count as stable
        assert link.lost(LOST) == expected
        assert not link.healthy
    assert link.disconnects == 3 and link.connects == 3


def test_a_link_stable_for_30_seconds_resets_the_schedule():
    link, clock = policy()
    for _ in range(4):
        link.attempting()
        link.refused(REFUSED)
    link.attempting()
    link.connected()
    link.registered()
    clock.advance(29.9)
    assert link.lost(LOST) == 60  # not yet stable: still at the cap
    link.attempting()
    link.connected()
    link.registered()
    clock.advance(30)
    assert link.lost(LOST) == 5
    assert link.reconnect_attempts == 1


def test_registration_alone_does_not_reset_the_backoff():
    link, _ = policy()
    for _ in range(3):
        link.attempting()
        link.refused(REFUSED)
    link.attempting()
    link.connected()
    link.registered()
    assert link.reconnect_attempts == 3


def test_duplicate_waits_at_the_maximum_from_the_first_time():
    link, _ = policy()
    link.attempting()
    assert link.refused(DUPLICATE) == 60
    link.attempting()
    assert link.refused(DUPLICATE) == 60
    assert link.state is LinkState.WAITING  # never a terminal state


def test_hello_refused_after_the_socket_opened_counts_as_a_loss():
    link, clock = policy()
    link.attempting()
    link.connected()
    clock.advance(1)
    assert link.refused(Failure(FailureKind.PROTOCOL, "bad hello")) == 5
    assert link.disconnects == 1
    assert link.connected_since is None


def test_states_through_a_life():
    link, _ = policy()
    assert link.state is LinkState.STARTING
    link.attempting()
    assert link.state is LinkState.CONNECTING
    link.connected()
    assert link.state is LinkState.CONNECTED and not link.healthy
    link.registered()
    assert link.state is LinkState.REGISTERED and link.healthy
    link.stopping()
    assert link.state is LinkState.STOPPING and not link.healthy
    link.stopped()
    assert link.snapshot()["state"] == "stopped"


def test_a_503_with_retry_after_waits_the_platforms_slot_instead_of_the_schedule():
    link, _ = policy()
    link.attempting()
    assert link.refused(Failure(FailureKind.UNAVAILABLE, "HTTP 503", retry_after=37.0)) == 37
    link.attempting()
    assert link.refused(Failure(FailureKind.UNAVAILABLE, "HTTP 503", retry_after=900.0)) == 300  # capped
    # Every other failure keeps §8's schedule (the count goes on from the attempts made).
    link.attempting()
    assert link.refused(Failure(FailureKind.UNAVAILABLE, "HTTP 503 without a hint")) == 20
    link.attempting()
    assert link.refused(Failure(FailureKind.UNREACHABLE, "ECONNREFUSED", retry_after=1.0)) == 40


def test_a_close_code_gives_the_shared_kind_and_the_logged_words():
    from edge_protocol import close_codes
    from edge_protocol.failures import failure_kind_of_close
    from edge_runtime.session import failure_from_close

    cases = {
        close_codes.CLOSE_TOKEN_EXPIRED: "Token has expired",
        close_codes.CLOSE_REPLACED: "Deployment already connected (the platform replaced this link, close 4009)",
        close_codes.CLOSE_PLATFORM_RESTART: "platform restarting (close 1012)",
        close_codes.CLOSE_PROTOCOL_ERROR: "protocol error (close 4000: bad frame)",
        None: "connection dropped without a close frame",
        4321: "closed by the platform (code 4321, bad frame)",
    }
    for code, words in cases.items():
        failure = failure_from_close(code, "bad frame")
        assert failure.kind is failure_kind_of_close(code)
        assert failure.message.startswith(words), (code, failure.message)
    assert failure_from_close(close_codes.CLOSE_INTERNAL_ERROR, "keepalive ping timeout").message == (
        "no heartbeat from the platform for 2 intervals (dead peer)"
    )
