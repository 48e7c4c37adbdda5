"""Handshake admission (SPEC.md §14 herds): admit up to the capacity, refuse the rest with a slot."""

from __future__ import annotations

import pytest

from mock_platform.admission import HandshakeAdmission, retry_after_seconds


def test_admits_a_burst_then_refuses_with_the_backlog_spread_over_the_capacity():
    admission = HandshakeAdmission(capacity=10, burst=10)
    assert all(admission.offer(100.0).admitted for _ in range(10))
    refusals = [admission.offer(100.0) for _ in range(25)]
    assert not any(r.admitted for r in refusals)
    assert [r.backlog for r in refusals] == list(range(1, 26))
    # The nth refused gets ceil(n / capacity) seconds: 10 per second of Retry-After, in line.
    assert [r.retry_after for r in refusals] == [1] * 10 + [2] * 10 + [3] * 5
    assert admission.backlog(100.0) == 25 and admission.backlog(101.0) == 15 and admission.backlog(200.0) == 0


def test_refills_at_the_capacity_and_never_above_the_burst():
    admission = HandshakeAdmission(capacity=4, burst=2)
    assert [admission.offer(0.0).admitted for _ in range(3)] == [True, True, False]
    assert admission.offer(0.25).admitted  # a quarter second brings one token back
    assert not admission.offer(0.25).admitted
    assert [admission.offer(60.0).admitted for _ in range(3)] == [True, True, False]  # capped at the burst


def test_a_late_refusal_starts_from_now_not_from_a_slot_long_past():
    admission = HandshakeAdmission(capacity=1, burst=1)
    assert admission.offer(0.0).admitted
    assert admission.offer(0.0).retry_after == 1
    assert admission.offer(500.0).admitted
    late = admission.offer(500.0)
    assert late.retry_after == 1 and late.backlog == 1


def test_the_clock_going_backwards_does_not_mint_tokens():
    admission = HandshakeAdmission(capacity=1, burst=1)
    assert admission.offer(10.0).admitted
    assert not admission.offer(5.0).admitted
    assert not admission.offer(10.5).admitted


def test_retry_after_is_whole_seconds_and_at_least_one():
    assert retry_after_seconds(0, 2000) == 1
    assert retry_after_seconds(2000, 2000) == 1
    assert retry_after_seconds(2001, 2000) == 2
    assert retry_after_seconds(98_000, 2000) == 49


def test_capacity_must_be_positive():
    with pytest.raises(ValueError, match="above 0"):
        HandshakeAdmission(capacity=0)
