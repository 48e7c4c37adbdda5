"""The hub's one deadline timer (`mock_platform.link_deadlines`): order, cancelling, compaction, firing."""

from __future__ import annotations

import time

from mock_platform.link_deadlines import COMPACT_AT, DeadlineTimer
from tests.support.waiting import async_wait_until


async def test_links_come_due_in_deadline_order_and_a_cancelled_one_never():
    woken: list[str] = []
    timer = DeadlineTimer(woken.append, clock=lambda: 0.0)  # a frozen clock: nothing fires by itself
    timer.schedule(30.0, "late")
    early = timer.schedule(10.0, "early")
    timer.schedule(20.0, "middle")
    timer.cancel(early)
    timer.cancel(early)  # twice is once
    assert len(timer) == 2
    assert timer.due(15.0) == []
    assert timer.due(25.0) == ["middle"]
    assert timer.due(1e9) == ["late"] and len(timer) == 0
    timer.close()
    assert woken == []


async def test_links_that_come_and_go_leave_no_pile_of_cancelled_entries():
    timer = DeadlineTimer(lambda item: None, clock=lambda: 0.0)
    kept = timer.schedule(3600.0, "held for an hour")
    for n in range(10 * COMPACT_AT):  # a reconnecting fleet: each link's entry cancelled as it leaves
        timer.cancel(timer.schedule(3600.0 + n, n))
    assert len(timer) == 1 and len(timer._heap) <= 2 * COMPACT_AT
    assert kept[2] == "held for an hour"
    timer.close()


async def test_the_timer_wakes_each_link_at_its_deadline_and_rearms_for_the_next():
    woken: list[str] = []
    timer = DeadlineTimer(woken.append)
    now = time.time()
    timer.schedule(now + 0.2, "second")
    timer.schedule(now + 0.05, "first")
    await async_wait_until(lambda: woken == ["first", "second"], 5, message="both deadlines")
    timer.schedule(time.time() + 0.05, "added later")  # an idle timer arms again
    await async_wait_until(lambda: woken[-1:] == ["added later"], 5, message="the later deadline")
    timer.close()
