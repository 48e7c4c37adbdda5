"""What `edge-connector tail` prints on a terminal, on plain events: call lines, logs under their call."""

from __future__ import annotations

from edge_cli.tail_view import TailView, call_line, clock
from edge_protocol.messages import LogEntry
from edge_protocol.tail import CallEvent, DroppedEvent, LogEvent


def call(call_id: str, outcome: str = "ok", code: str | None = None, message: str | None = None) -> CallEvent:
    return CallEvent("2026-11-30T10:00:01.234Z", call_id, "get_weather", "dep-1", 12.34, outcome, code, message)


def log(call_id: str | None, text: str, level: str = "info") -> LogEvent:
    return LogEvent("dep-1", LogEntry("2026-11-30T10:00:01.200Z", "get_weather", call_id, level, text))


def texts(lines) -> list[str]:
    return [line.text for line in lines]


def test_a_call_line_shows_time_deployment_tool_outcome_duration_and_id():
    line = call_line(call("call_1"))
    assert line.text.startswith(clock("2026-11-30T10:00:01.234Z"))
    assert "dep-1  get_weather  ok  12.3 ms  call_1" in line.text and line.style == "green"
    failed = call_line(call("call_2", "tool_error", "bad_city", "city is empty"))
    assert "tool_error" in failed.text and "bad_city: city is empty" in failed.text and failed.style == "red"
    refused = call_line(call("call_3", "tool_not_found", "tool_not_found", "Tool 'x' not found"))
    assert refused.text.endswith("tool_not_found  12.3 ms  call_3  Tool 'x' not found")


def test_a_call_line_names_the_connector_that_ran_it():
    ran = CallEvent(
        "2026-11-30T10:00:01.234Z", "call_1", "get_weather", "dep-1", 1.5, "ok", connector_id="conn_0123456789abcdef"
    )
    assert call_line(ran).text.endswith("ok  1.5 ms  call_1  conn_0123456789ab…")
    refused = CallEvent(
        "2026-11-30T10:00:01.234Z", "call_2", "x", "dep-1", 0.1, "tool_not_found", "tool_not_found", "no"
    )
    assert "conn_" not in call_line(refused).text  # no connector took it


def test_log_lines_are_held_and_printed_under_their_call():
    view = TailView()
    assert view.event(log("call_1", "fetching"), now=0.0) == []
    assert view.event(log("call_1", "done", "warn"), now=0.1) == []
    printed = view.event(call("call_1"), now=0.2)
    assert "get_weather  ok" in printed[0].text
    assert [t.split()[-1] for t in texts(printed[1:])] == ["fetching", "done"]
    assert all(t.startswith("    │") for t in texts(printed[1:])) and printed[2].style == "yellow"
    late = view.event(log("call_1", "late"), now=0.3)
    assert texts(late)[0].startswith("    │") and texts(late)[0].endswith("late")


def test_a_long_call_shows_its_lines_after_the_hold_and_then_as_they_come():
    view = TailView(hold_seconds=1.0)
    view.event(log("call_9", "step 1"), now=0.0)
    assert view.tick(0.5) == []
    released = view.tick(1.0)
    assert len(released) == 1 and "get_weather call_9" in released[0].text and released[0].text.endswith("step 1")
    assert texts(view.event(log("call_9", "step 2"), now=1.1))[0].endswith("step 2")
    assert len(view.event(call("call_9"), now=2.0)) == 1  # its lines were already shown


def test_lines_outside_a_call_and_drops_print_at_once():
    view = TailView()
    assert texts(view.event(log(None, "worker ready"), now=0.0))[0].endswith("worker ready")
    dropped = view.event(DroppedEvent(42), now=0.0)
    assert "42 events dropped" in dropped[0].text and "--status" in dropped[0].text
