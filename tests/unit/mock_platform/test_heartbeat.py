"""The heartbeat's schedule (`mock_platform.heartbeat`): who is visited at which tick, on plain objects."""

from __future__ import annotations

import pytest

from mock_platform.heartbeat import SLOTS, Heartbeat
from tests.support.waiting import async_wait_until


class Link:
    """Records the heartbeat's visits; `leaves` makes a visit close the link (as an unanswered ping does)."""

    def __init__(self, heartbeat: Heartbeat, leaves: bool = False) -> None:
        self.heartbeat, self.leaves = heartbeat, leaves
        self.heartbeat_slot = -1
        self.visits = 0

    def beat(self) -> None:
        self.visits += 1
        if self.leaves:
            self.heartbeat.leave(self)


def run_ticks(heartbeat: Heartbeat, n: int) -> None:
    for _ in range(n):
        heartbeat.tick()


def test_every_link_is_visited_once_per_interval_and_a_newcomer_a_whole_interval_after_it_joined():
    heartbeat = Heartbeat(1.0)
    heartbeat._timer = object()  # the ticks are turned by hand here
    early = Link(heartbeat)
    heartbeat.join(early)
    run_ticks(heartbeat, 3)
    late = Link(heartbeat)
    heartbeat.join(late)
    run_ticks(heartbeat, SLOTS - 4)
    assert (early.visits, late.visits) == (0, 0)  # nobody is pinged before a whole interval
    run_ticks(heartbeat, 1)
    assert (early.visits, late.visits) == (1, 0)
    run_ticks(heartbeat, 3)
    assert (early.visits, late.visits) == (1, 1)
    run_ticks(heartbeat, 4 * SLOTS)
    assert (early.visits, late.visits) == (5, 5)
    assert len(heartbeat) == 2


def test_a_link_that_leaves_during_its_visit_or_between_visits_is_not_visited_again():
    heartbeat = Heartbeat(1.0)
    heartbeat._timer = object()  # turned by hand
    closing, gone, staying = Link(heartbeat, leaves=True), Link(heartbeat), Link(heartbeat)
    for link in (closing, gone, staying):
        heartbeat.join(link)
    heartbeat.leave(gone)
    run_ticks(heartbeat, 3 * SLOTS)
    assert (closing.visits, gone.visits, staying.visits) == (1, 0, 3)
    assert len(heartbeat) == 1


def test_a_non_positive_interval_is_refused():
    with pytest.raises(ValueError, match="positive"):
        Heartbeat(0)


async def test_the_timer_runs_while_links_are_joined_and_stops_when_the_last_one_leaves():
    heartbeat = Heartbeat(0.05)
    link = Link(heartbeat)
    heartbeat.join(link)
    await async_wait_until(lambda: link.visits >= 2, 5, message="two visits of the heartbeat")
    heartbeat.leave(link)
    assert heartbeat._timer is None  # an idle server keeps no timer
    heartbeat.join(link)  # and the next link starts it again
    visits = link.visits
    await async_wait_until(lambda: link.visits > visits, 5, message="a visit after the timer restarted")
    heartbeat.leave(link)
