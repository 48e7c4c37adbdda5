"""The tail's fan-out on plain values: bounded queues, drop counts, filters, the per-org limit, interest."""

from __future__ import annotations

import json

import pytest

from edge_protocol.messages import LogEntry
from edge_protocol.tail import CallEvent, LogEvent, TailFilter
from mock_platform.tail_fanout import PARKED_LINES, TailFanout, TooManyViewers


def call(n: int, outcome: str = "ok", deployment: str = "dep-1", tool: str = "echo") -> CallEvent:
    return CallEvent("t", f"call_{n}", tool, deployment, 1.0, outcome, None if outcome == "ok" else "boom", None)


def line(call_id: str | None, text: str, deployment: str = "dep-1", tool: str = "echo") -> LogEvent:
    return LogEvent(deployment, LogEntry("t", tool, call_id, "info", text))


def drain(viewer) -> list[dict]:
    frames = []
    while (frame := viewer.take()) is not None:
        frames.append(json.loads(frame))
    return frames


def test_events_reach_every_matching_viewer_in_order():
    fanout = TailFanout()
    everything = fanout.open("org-1", TailFilter())
    only_fail = fanout.open("org-1", TailFilter(tool="fail"))
    other_org = fanout.open("org-2", TailFilter())
    fanout.publish_call("org-1", call(1))
    fanout.publish_log("org-1", line("call_2", "working"))
    fanout.publish_call("org-1", call(2, "tool_error", tool="fail"))
    assert [(f["type"], f.get("callId")) for f in drain(everything)] == [
        ("call", "call_1"),
        ("log", "call_2"),
        ("call", "call_2"),
    ]
    assert [f["callId"] for f in drain(only_fail)] == ["call_2"]
    assert drain(other_org) == []


def test_a_full_queue_counts_drops_and_reports_them_once_at_the_gap():
    fanout = TailFanout(capacity=10)
    woken = []
    viewer = fanout.open("org-1", TailFilter())
    viewer.wake = lambda: woken.append(1)
    for n in range(1000):
        fanout.publish_call("org-1", call(n))  # never blocks, whatever the viewer does
    assert len(viewer.queue) == 10 and viewer.dropped == 990 and woken
    frames = drain(viewer)
    assert [f["callId"] for f in frames[:10]] == [f"call_{n}" for n in range(10)]
    assert frames[10:] == [{"type": "dropped", "count": 990}]
    # After a gap, the next event is preceded by the count of what was missed in between.
    for n in range(1000, 1015):
        fanout.publish_call("org-1", call(n))
    fanout.publish_call("org-1", call(2000))
    frames = drain(viewer)
    assert frames[-1] == {"type": "dropped", "count": 6}
    assert viewer.dropped_total == 996


def test_a_dropped_frame_comes_before_the_first_event_after_room_frees():
    fanout = TailFanout(capacity=3)
    viewer = fanout.open("org-1", TailFilter())
    for n in range(5):
        fanout.publish_call("org-1", call(n))
    assert viewer.take() is not None and viewer.take() is not None  # two slots free
    fanout.publish_call("org-1", call(99))
    rest = drain(viewer)
    assert rest == [
        json.loads(json.dumps(call(2).to_wire())),
        {"type": "dropped", "count": 2},
        json.loads(json.dumps(call(99).to_wire())),
    ]


def test_at_most_ten_viewers_per_organization():
    fanout = TailFanout()
    viewers = [fanout.open("org-1", TailFilter()) for _ in range(10)]
    with pytest.raises(TooManyViewers):
        fanout.open("org-1", TailFilter())
    fanout.open("org-2", TailFilter())  # another org has its own ten
    fanout.close(viewers[0])
    fanout.open("org-1", TailFilter())


def test_interest_follows_viewers_and_their_deployment_filter():
    fanout = TailFanout()
    assert not fanout.wants_logs("org-1", "dep-1") and not fanout.watching("org-1")
    narrow = fanout.open("org-1", TailFilter(deployment_id="dep-2"))
    assert fanout.watching("org-1") and not fanout.watching("org-2")
    assert not fanout.wants_logs("org-1", "dep-1") and fanout.wants_logs("org-1", "dep-2")
    wide = fanout.open("org-1", TailFilter(tool="echo", status="error"))
    assert fanout.wants_logs("org-1", "dep-1")
    fanout.close(wide)
    fanout.close(narrow)
    fanout.close(narrow)  # closing twice is harmless
    assert not fanout.wants_logs("org-1", "dep-2") and not fanout.watching("org-1")


def test_status_filter_delivers_a_failed_calls_lines_before_it_and_discards_the_rest():
    fanout = TailFanout()
    errors = fanout.open("org-1", TailFilter(status="error"))
    oks = fanout.open("org-1", TailFilter(status="ok"))
    fanout.publish_log("org-1", line("call_1", "first of call 1"))
    fanout.publish_log("org-1", line("call_2", "first of call 2"))
    fanout.publish_log("org-1", line(None, "worker started"))  # no call: nothing to wait for
    fanout.publish_log("org-1", line("call_1", "second of call 1"))
    fanout.publish_call("org-1", call(1, "tool_error"))
    fanout.publish_call("org-1", call(2, "ok"))
    fanout.publish_log("org-1", line("call_1", "late line of call 1"))
    fanout.publish_log("org-1", line("call_2", "late line of call 2"))
    got = [(f["type"], f.get("message") or f.get("callId")) for f in drain(errors)]
    assert got == [
        ("log", "worker started"),
        ("log", "first of call 1"),
        ("log", "second of call 1"),
        ("call", "call_1"),
        ("log", "late line of call 1"),
    ]
    got_ok = [(f["type"], f.get("message") or f.get("callId")) for f in drain(oks)]
    assert got_ok == [
        ("log", "worker started"),
        ("log", "first of call 2"),
        ("call", "call_2"),
        ("log", "late line of call 2"),
    ]


def test_lines_held_for_a_running_call_are_bounded():
    fanout = TailFanout(capacity=2 * PARKED_LINES)
    errors = fanout.open("org-1", TailFilter(status="error"))
    for n in range(PARKED_LINES + 50):
        fanout.publish_log("org-1", line("call_1", f"line {n}"))
    fanout.publish_call("org-1", call(1, "tool_error"))
    frames = drain(errors)
    logs = [f["message"] for f in frames if f["type"] == "log"]
    assert len(logs) == PARKED_LINES and logs[0] == "line 50" and logs[-1] == f"line {PARKED_LINES + 49}"
    # The lost lines are reported where they were lost: before the first line still held.
    assert frames[0] == {"type": "dropped", "count": 50} and frames[-1]["type"] == "call"


def test_an_event_is_encoded_once_for_all_viewers():
    fanout = TailFanout()
    a, b = fanout.open("org-1", TailFilter()), fanout.open("org-1", TailFilter())
    fanout.publish_call("org-1", call(1))
    assert a.queue[0] is b.queue[0]
