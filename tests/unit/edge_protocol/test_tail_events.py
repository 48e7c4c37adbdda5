"""The tail's events and filter (SPEC.md §13) on plain values: wire shapes both ways, refusals, matching."""

from __future__ import annotations

import pytest

from edge_protocol.messages import LogEntry
from edge_protocol.tail import (
    MAX_LOG_LINE_BYTES,
    TRUNCATED_MARK,
    CallEvent,
    DroppedEvent,
    LogEvent,
    TailEventError,
    TailFilter,
    event_from_wire,
    truncate_utf8,
)

OK = CallEvent("2026-11-30T10:00:00.000Z", "call_1", "echo", "dep-1", 1.5, "ok")
FAILED = CallEvent(
    "2026-11-30T10:00:00.000Z", "call_2", "fail", "dep-2", 2.0, "tool_error", "bad_city", "city is empty"
)
LINE = LogEvent("dep-1", LogEntry("2026-11-30T10:00:00.000Z", "echo", "call_1", "info", "hello"))


def test_call_event_wire_shape_matches_the_spec():
    assert OK.to_wire() == {
        "type": "call",
        "at": "2026-11-30T10:00:00.000Z",
        "callId": "call_1",
        "tool": "echo",
        "deploymentId": "dep-1",
        "durationMs": 1.5,
        "outcome": "ok",
    }
    wire = FAILED.to_wire()
    assert wire["outcome"] == "tool_error" and wire["error"] == {"code": "bad_city", "message": "city is empty"}
    refused = CallEvent("t", "call_3", "nope", None, 0.1, "tool_not_found", None, "Tool 'nope' not found")
    assert refused.to_wire()["error"] == {"code": "tool_not_found", "message": "Tool 'nope' not found"}
    assert refused.to_wire()["deploymentId"] is None


def test_log_and_dropped_wire_shapes():
    assert LINE.to_wire() == {
        "type": "log",
        "at": "2026-11-30T10:00:00.000Z",
        "deploymentId": "dep-1",
        "tool": "echo",
        "callId": "call_1",
        "level": "info",
        "message": "hello",
    }
    outside_a_call = LogEvent("dep-1", LogEntry("t", "echo", None, "warn", "loading"))
    assert "callId" not in outside_a_call.to_wire()
    assert DroppedEvent(7).to_wire() == {"type": "dropped", "count": 7}


@pytest.mark.parametrize(
    "event", [OK, FAILED, LINE, DroppedEvent(3), CallEvent("t", "c", "x", "d", 1, "ok", connector_id="conn_1")]
)
def test_every_event_round_trips(event):
    assert event_from_wire(event.to_wire()) == event


@pytest.mark.parametrize(
    "frame, named",
    [
        ({"type": "call", "callId": "c", "outcome": "ok"}, "at"),
        ({"type": "log", "at": "t", "tool": "x", "level": "loud", "message": "m"}, "level"),
        ({"type": "dropped", "count": 0}, "count"),
        ({"type": "dropped", "count": True}, "count"),
        ({"type": "party"}, "party"),
        ([1, 2], "object"),
    ],
)
def test_bad_frames_name_the_problem(frame, named):
    with pytest.raises(TailEventError, match=named):
        event_from_wire(frame)


def test_a_log_event_carries_the_link_entry_unchanged():
    entry = LogEntry("t", "echo", "call_1", "error", "boom")
    event = LogEvent("dep-1", entry)
    assert event_from_wire(event.to_wire()) == event
    assert {k: v for k, v in event.to_wire().items() if k in entry.to_wire()} == entry.to_wire()


def test_truncation_counts_utf8_bytes_and_never_splits_a_character():
    assert truncate_utf8("short") == "short"
    cut = truncate_utf8("é" * 5000)
    assert len(cut.encode("utf-8")) <= MAX_LOG_LINE_BYTES and cut.endswith(TRUNCATED_MARK)
    assert set(cut[: -len(TRUNCATED_MARK)]) == {"é"}
    exact = "a" * MAX_LOG_LINE_BYTES
    assert truncate_utf8(exact) == exact


def test_filter_from_query_and_back():
    assert TailFilter.from_query({}) == TailFilter()
    parsed = TailFilter.from_query({"deploymentId": "dep-1", "tool": "echo", "status": "error"})
    assert parsed == TailFilter("dep-1", "echo", "error")
    assert parsed.to_query() == {"deploymentId": "dep-1", "tool": "echo", "status": "error"}
    assert TailFilter.from_query({"deploymentId": "", "status": ""}) == TailFilter()
    with pytest.raises(ValueError, match="ok or error"):
        TailFilter.from_query({"status": "bad"})


def test_filter_selects_by_deployment_tool_and_status():
    assert TailFilter().matches(OK) and TailFilter().matches(LINE)
    assert TailFilter(deployment_id="dep-1").matches(OK) and not TailFilter(deployment_id="dep-1").matches(FAILED)
    assert TailFilter(tool="fail").matches(FAILED) and not TailFilter(tool="fail").matches(LINE)
    assert TailFilter(status="error").matches(FAILED) and not TailFilter(status="error").matches(OK)
    assert TailFilter(status="ok").matches(OK) and not TailFilter(status="ok").matches(FAILED)
    # A log line has no outcome: the status filter alone does not refuse it (the fan-out holds it for its call).
    assert TailFilter(status="error").matches(LINE)
    assert TailFilter(deployment_id="dep-1").covers_deployment("dep-1")
    assert not TailFilter(deployment_id="dep-1").covers_deployment("dep-2")
    assert TailFilter(tool="x").covers_deployment("anything")
