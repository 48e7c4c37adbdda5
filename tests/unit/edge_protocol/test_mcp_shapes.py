"""The MCP shapes of edge tools (edge_protocol.mcp): tool entries, results, failures."""

from __future__ import annotations

import json

import mcp_types as types

from edge_protocol.mcp import ToolFailure, failure_result, success_result, tool_entry, unknown_tool_error

OBJECT = {"type": "object", "properties": {"a": {"type": "string"}}}


def test_tool_entry_lists_output_schema_only_when_it_is_an_object_schema() -> None:
    entry = tool_entry({"name": "t", "description": "d", "inputSchema": OBJECT, "outputSchema": OBJECT, "entry": "x"})
    assert entry == {"name": "t", "description": "d", "inputSchema": OBJECT, "outputSchema": OBJECT}
    assert "outputSchema" not in tool_entry({"name": "t", "inputSchema": OBJECT, "outputSchema": {"type": "string"}})
    assert "outputSchema" not in tool_entry({"name": "t", "inputSchema": OBJECT, "outputSchema": None})
    assert "description" not in tool_entry({"name": "t", "inputSchema": OBJECT, "description": ""})
    types.Tool.model_validate(entry)  # the SDK accepts it as a tool


def test_success_result_carries_structured_content_and_the_same_json_as_text() -> None:
    result = success_result({"tempC": 21})
    assert result["structuredContent"] == {"tempC": 21} and result["isError"] is False
    assert json.loads(result["content"][0]["text"]) == {"tempC": 21}
    types.CallToolResult.model_validate(result)


def test_non_object_outputs_are_wrapped_for_structured_content_but_text_is_the_value() -> None:
    for value in ("plain", [1, 2], 3, None):
        result = success_result(value)
        assert result["structuredContent"] == {"result": value}
        assert json.loads(result["content"][0]["text"]) == value


def test_failure_result_holds_code_kind_message_and_details() -> None:
    result = failure_result(ToolFailure("invalid_arguments", "bad at a", None, [{"path": "/a"}]))
    assert result["isError"] is True and "structuredContent" not in result
    assert json.loads(result["content"][0]["text"]) == {
        "error": {
            "code": "invalid_arguments",
            "kind": "invalid_arguments",
            "message": "bad at a",
            "details": [{"path": "/a"}],
        }
    }
    tool_code = json.loads(failure_result(ToolFailure("tool_error", "m", "bad_city"))["content"][0]["text"])
    assert tool_code == {"error": {"code": "bad_city", "kind": "tool_error", "message": "m"}}


def test_unknown_tool_is_the_protocol_error_invalid_params() -> None:
    error = unknown_tool_error("nope")
    assert error.error.code == -32602 and error.error.message == "Unknown tool: nope"
