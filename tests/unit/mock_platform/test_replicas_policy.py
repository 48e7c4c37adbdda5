"""Seats of a deployment (SPEC.md §14): admit below `replicas`, probe when full, replace the silent."""

from __future__ import annotations

import pytest

from mock_platform.replicas import after_probe, has_free_seat


def test_a_seat_is_free_below_replicas_and_one_is_always_allowed():
    assert has_free_seat(0, 1) and not has_free_seat(1, 1)
    assert has_free_seat(2, 3) and not has_free_seat(3, 3) and not has_free_seat(4, 3)
    assert has_free_seat(0, 0) and not has_free_seat(1, 0)  # a nonsense 0 still means one


def test_every_holder_answering_refuses_the_newcomer():
    outcome = after_probe(["a", "b", "c"], [True, True, True], replicas=3)
    assert outcome.replace == () and outcome.admit is False


def test_a_silent_holder_is_replaced_and_the_newcomer_admitted():
    outcome = after_probe(["a", "b", "c"], [True, False, True], replicas=3)
    assert outcome.replace == ("b",) and outcome.admit is True
    single = after_probe(["ghost"], [False], replicas=1)
    assert single.replace == ("ghost",) and single.admit is True


def test_all_silent_holders_go_even_when_one_would_do():
    outcome = after_probe(["a", "b"], [False, False], replicas=2)
    assert outcome.replace == ("a", "b") and outcome.admit is True


def test_lowered_replicas_keep_refusing_while_the_live_holders_fill_them():
    # replicas lowered from 3 to 1 while 3 are connected: a silent one goes, the newcomer still waits.
    outcome = after_probe(["a", "b", "c"], [True, True, False], replicas=1)
    assert outcome.replace == ("c",) and outcome.admit is False


def test_seats_reserved_for_connectors_still_saying_hello_count_as_taken():
    assert after_probe(["a"], [False], replicas=2, reserved=1).admit is True
    assert after_probe(["a"], [False], replicas=2, reserved=2).admit is False
    assert after_probe([], [], replicas=1, reserved=1).admit is False


def test_answers_must_match_holders():
    with pytest.raises(ValueError):
        after_probe(["a"], [], replicas=1)
