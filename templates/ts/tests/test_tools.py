"""End-to-end tests of this project's tools: built, uploaded and called through a real platform and runtime.

Run with `pytest` (or `pytest -n 2`) in a Python environment where edge-connector is installed: its
pytest plugin provides the `edge_stack` fixture. `npm test` runs the fast unit tests in test/.
"""

from pathlib import Path

import pytest

from edge_connector.testing import ToolCallError

PROJECT = Path(__file__).resolve().parents[1]


def test_make_slug_answers_through_the_platform(edge_stack):
    stack = edge_stack(PROJECT)
    assert stack.call("make_slug", {"text": "Hello, World!"}) == {"slug": "hello-world"}
    assert stack.call("make_slug", {"text": "Edge Tools Rock", "separator": "_"}) == {"slug": "edge_tools_rock"}
    assert "slug for call" in stack.wait_for_log("slug for call")  # the tool's ctx.log() line, in the runtime's log


def test_make_slug_errors_reach_the_caller_with_their_codes(edge_stack):
    stack = edge_stack(PROJECT)
    with pytest.raises(ToolCallError) as refused:
        stack.call("make_slug", {"text": "!!!"})
    assert (refused.value.kind, refused.value.code) == ("tool_error", "empty_slug")

    with pytest.raises(ToolCallError) as invalid:
        stack.call("make_slug", {"text": "ok", "separator": "--"})
    assert invalid.value.kind == "invalid_arguments"
    assert [detail["path"] for detail in invalid.value.details] == ["/separator"]
