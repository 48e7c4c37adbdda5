"""edge_protocol.backoff.Backoff, the policy under the runtime's reconnects (pure, seeded)."""

from __future__ import annotations

import random

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


@given(st.floats(min_value=0.01, max_value=10), st.floats(min_value=10, max_value=600), st.integers(0, 60),
       st.integers(0, 2**32))
def test_every_delay_is_within_jitter_of_its_base(initial, maximum, attempts, seed):
    backoff = Backoff(initial=initial, maximum=maximum, rng=random.Random(seed), attempts=attempts)
    base = backoff.base_delay()
    assert base <= maximum
    delay = backoff.next_delay()
    assert base * 0.9 - 1e-9 <= delay <= base * 1.1 + 1e-9
    assert backoff.attempts == attempts + 1
