"""What fits in one frame (issue 12 item 7): answers sized in bytes with their wrapper, errors capped."""

from __future__ import annotations

import orjson

from edge_protocol import jsonrpc
from edge_protocol.calls import RESULT_TOO_LARGE, TRUNCATED, capped_error, result_too_large
from edge_protocol.errors import ToolCallError, ToolErrorKind
from edge_protocol.limits import MAX_ERROR_DETAILS_BYTES, MAX_ERROR_MESSAGE_CHARS, MAX_FRAME_BYTES
from edge_protocol.link import ConnectorLink
from edge_protocol.messages import CallResult


def _error_of(frame: str) -> dict:
    reply = orjson.loads(frame)
    assert "result" not in reply
    return reply["error"]


def test_an_answer_that_fits_is_the_result_itself():
    frame, refused = ConnectorLink().answer(7, CallResult({"ok": "é" * 100}, 1.5))
    assert refused is None and orjson.loads(frame)["result"]["output"] == {"ok": "é" * 100}


def test_an_answer_over_the_frame_in_bytes_fails_that_call_with_result_too_large():
    # Fewer characters than the limit, more bytes: two per "é", plus the JSON-RPC wrapper.
    frame, refused = ConnectorLink().answer("42", CallResult("é" * (MAX_FRAME_BYTES // 2), 3.0))
    assert refused is not None and refused.kind is ToolErrorKind.TOOL_ERROR and refused.code == RESULT_TOO_LARGE
    error = _error_of(frame)
    assert orjson.loads(frame)["id"] == "42" and len(frame) < 2000
    assert error["code"] == ToolErrorKind.TOOL_ERROR.rpc_code
    assert error["data"]["kind"] == "tool_error" and error["data"]["code"] == RESULT_TOO_LARGE
    assert error["data"]["details"]["bytes"] > MAX_FRAME_BYTES and error["data"]["details"]["limit"] == MAX_FRAME_BYTES
    assert "bytes" in error["message"] and "reference" in error["message"]


def test_the_wrapper_counts_a_result_exactly_at_the_limit_does_not_fit():
    output = "x" * (MAX_FRAME_BYTES - 2)  # its JSON alone is exactly the limit
    frame, refused = ConnectorLink().answer(1, CallResult(output, 1.0))
    assert refused is not None and refused.code == RESULT_TOO_LARGE


def test_a_result_that_cannot_be_encoded_fails_that_call_only():
    deep: list = []
    for _ in range(400):  # deeper than the encoder goes
        deep = [deep]
    frame, refused = ConnectorLink().answer(3, CallResult(deep, 1.0))
    assert refused is not None and refused.kind is ToolErrorKind.TOOL_ERROR
    assert "cannot be sent as JSON" in _error_of(frame)["message"]


def test_error_text_code_and_details_are_capped_with_a_marker():
    huge = ToolCallError(
        ToolErrorKind.TOOL_ERROR, "m" * 1_000_000, "c" * 10_000, {"blob": "d" * (MAX_ERROR_DETAILS_BYTES * 4)}
    )
    frame = ConnectorLink().fail(5, huge)
    assert len(frame) < MAX_ERROR_MESSAGE_CHARS + 2 * 4096 + 1024
    error = _error_of(frame)
    assert error["message"].endswith(TRUNCATED) and len(error["message"]) == MAX_ERROR_MESSAGE_CHARS + len(TRUNCATED)
    assert error["data"]["code"].endswith(TRUNCATED)
    details = error["data"]["details"]
    assert details["truncated"] is True and details["bytes"] > MAX_ERROR_DETAILS_BYTES
    assert details["preview"].startswith('{"blob":"ddd') and details["preview"].endswith(TRUNCATED)


def test_small_errors_pass_untouched_and_unencodable_details_are_dropped():
    small = ToolCallError(ToolErrorKind.TOOL_ERROR, "bad city", "bad_city", {"city": ""})
    assert capped_error(small) is small
    odd = capped_error(ToolCallError(ToolErrorKind.TOOL_ERROR, "x", None, {"n": 2**70}))
    assert odd.details["truncated"] is True and "not JSON" in odd.details["preview"]


def test_result_too_large_names_the_size_and_the_limit():
    error = result_too_large(20_000_000)
    assert error.code == RESULT_TOO_LARGE and "20,000,000 bytes" in error.message
    assert f"{MAX_FRAME_BYTES:,}" in error.message
    assert jsonrpc.oversized("x" * (MAX_FRAME_BYTES + 1))
