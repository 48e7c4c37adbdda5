"""edge_protocol.backoff.Backoff, the policy under the runtime's reconnects (pure, seeded)."""

from __future__ import annotations

import random
from datetime import UTC

from hypothesis import given
from hypothesis import strategies as st

from edge_protocol.backoff import STABLE_AFTER_SECONDS, Backoff


def test_base_delays_double_to_the_cap():
    backoff = Backoff(jitter=0.0)
    assert [backoff.next_delay() for _ in range(7)] == [5, 10, 20, 40, 60, 60, 60]


def test_stable_connection_resets_and_short_one_does_not():
    backoff = Backoff(jitter=0.0)
    for _ in range(3):
        backoff.next_delay()
    backoff.connection_lost(STABLE_AFTER_SECONDS - 0.1)
    assert backoff.next_delay() == 40
    backoff.connection_lost(STABLE_AFTER_SECONDS)
    assert backoff.next_delay() == 5


@given(
    st.floats(min_value=0.01, max_value=10),
    st.floats(min_value=10, max_value=600),
    st.integers(0, 60),
    st.integers(0, 2**32),
)
def test_every_delay_is_within_jitter_of_its_base(initial, maximum, attempts, seed):
    backoff = Backoff(initial=initial, maximum=maximum, rng=random.Random(seed), attempts=attempts)
    base = backoff.base_delay()
    assert base <= maximum
    delay = backoff.next_delay()
    assert base * 0.9 - 1e-9 <= delay <= base * 1.1 + 1e-9
    assert backoff.attempts == attempts + 1


def test_retry_after_replaces_the_schedule_capped_at_300_seconds_with_jitter():
    from edge_protocol.backoff import MAX_RETRY_AFTER_SECONDS

    backoff = Backoff(jitter=0.0)
    assert backoff.after_retry_after(42) == 42
    assert backoff.after_retry_after(3600) == MAX_RETRY_AFTER_SECONDS == 300
    assert backoff.after_retry_after(-5) == 0
    assert backoff.attempts == 3  # each counts as an attempt, like any refusal
    jittered = Backoff(rng=random.Random(3))
    delays = [jittered.after_retry_after(100) for _ in range(200)]
    assert all(90 <= d <= 110 for d in delays) and max(delays) - min(delays) > 10  # spread, within ±10 %
    assert all(270 <= jittered.after_retry_after(10_000) <= 330 for _ in range(50))


def test_retry_after_header_parses_seconds_and_dates():
    from datetime import datetime

    from edge_protocol.backoff import parse_retry_after

    assert parse_retry_after("17") == 17.0 and parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("") is None and parse_retry_after("-3") is None
    now = datetime(2026, 11, 30, 3, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Mon, 30 Nov 2026 03:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Mon, 30 Nov 2026 02:59:00 GMT", now=now) == 0.0


def test_reset_starts_the_schedule_over():
    backoff = Backoff(initial=0.5, maximum=4.0, jitter=0.0)
    assert [backoff.next_delay() for _ in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    backoff.reset()
    assert backoff.attempts == 0 and backoff.next_delay() == 0.5


def test_retry_after_cap_is_per_policy():
    short = Backoff(jitter=0.0, max_retry_after=60.0)  # the CLI's: a person is waiting
    assert short.after_retry_after(45) == 45 and short.after_retry_after(600) == 60


def test_delay_after_takes_the_hint_when_there_is_one():
    backoff = Backoff(initial=1.0, maximum=8.0, jitter=0.0)
    assert [backoff.delay_after(None), backoff.delay_after(30.0), backoff.delay_after(None)] == [1.0, 30.0, 4.0]


def test_the_mcp_relisten_pause_grows_while_the_stream_keeps_dropping():
    from edge_cli.mcp_remote import relisten_backoff

    backoff = relisten_backoff()
    backoff.jitter = 0.0
    delays = []
    for _ in range(7):
        backoff.connection_lost(0.1)  # dropped at once
        delays.append(backoff.next_delay())
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    backoff.connection_lost(60.0)
    assert backoff.next_delay() == 1.0
